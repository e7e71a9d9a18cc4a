import { describe, expect, it } from "vitest";
import { createColumnWindow, paintGrid, sizeCanvas, WINDOW_MARGIN } from "../src/lib/canvas";

/** A 2-D context that records what is drawn. */
function recorder() {
  const calls: [string, ...unknown[]][] = [];
  const ctx = {
    fillStyle: "",
    strokeStyle: "",
    lineWidth: 0,
    fillRect: (...a: number[]) => calls.push(["fill", ctx.fillStyle, ...a]),
    strokeRect: (...a: number[]) => calls.push(["stroke", ctx.strokeStyle, ctx.lineWidth, ...a]),
  };
  return { ctx: ctx as unknown as CanvasRenderingContext2D, calls };
}

describe("paintGrid", () => {
  it("paints the background, every cell in its colour with 1 px gaps, then the outlines in range", () => {
    const { ctx, calls } = recorder();
    paintGrid(ctx, {
      rows: 2, cols: 3, cellW: 10, cellH: 8, background: "#fff",
      color: (r, c) => `c${r}${c}`,
      outlines: [{ row: 1, col: 2, color: "red", width: 2 }, { row: 5, col: 0, color: "blue", width: 1 }],
    });
    expect(calls[0]).toEqual(["fill", "#fff", 0, 0, 30, 16]);
    const cells = calls.filter((c) => c[0] === "fill").slice(1);
    expect(cells.length).toBe(6);
    expect(cells[5]).toEqual(["fill", "c12", 20.5, 8.5, 9, 7]);
    const strokes = calls.filter((c) => c[0] === "stroke");
    expect(strokes).toEqual([["stroke", "red", 2, 21, 9, 8, 6]]); // the out-of-range outline is skipped
  });
});

describe("sizeCanvas", () => {
  it("sizes the backing store at the pixel ratio and caps very long canvases", () => {
    const c = document.createElement("canvas");
    expect(sizeCanvas(c, 200, 50)).toBe(1);
    expect([c.width, c.height, c.style.width, c.style.height]).toEqual([200, 50, "200px", "50px"]);
    const long = document.createElement("canvas");
    const dpr = sizeCanvas(long, 64000, 100);
    expect(dpr).toBe(1); // at least 1 where the device ratio is 1
    (globalThis as { devicePixelRatio?: number }).devicePixelRatio = 2;
    try {
      expect(sizeCanvas(long, 64000, 100)).toBe(1); // capped: 2 x 64,000 would exceed 32,000
      expect(sizeCanvas(long, 100, 100)).toBe(2);
      expect(long.width).toBe(200);
    } finally {
      (globalThis as { devicePixelRatio?: number }).devicePixelRatio = 1;
    }
  });
});

describe("createColumnWindow", () => {
  it("repaints only when the columns in view leave the painted window", () => {
    const canvas = document.createElement("canvas");
    const scroller = document.createElement("div");
    Object.defineProperty(scroller, "clientWidth", { value: 200 });
    const w = createColumnWindow(canvas, scroller);
    const cols = 1000;
    const cellW = 10;
    w.begin(cols, cellW, 50); // columns 0..(20 + 1 + margin) painted
    let repaints = 0;
    for (let x = 0; x <= 2000; x += cellW) {
      scroller.scrollLeft = x;
      if (w.stale(cols, cellW)) {
        repaints++;
        w.begin(cols, cellW, 50);
      }
    }
    // 200 one-column steps: a repaint about every WINDOW_MARGIN columns, not at every step
    expect(repaints).toBeGreaterThan(0);
    expect(repaints).toBeLessThanOrEqual(Math.ceil(200 / WINDOW_MARGIN) + 1);
    scroller.scrollLeft = 5000; // a jump far away is always repainted
    expect(w.stale(cols, cellW)).toBe(true);
  });
});
