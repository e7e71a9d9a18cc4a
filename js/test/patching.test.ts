import { afterEach, describe, expect, it } from "vitest";
import widget, { HEAD_W, POS_W, ROW_H, quoted, signed, type PatchingModel } from "../src/views/patching";
import { f32, fakeModel, tick } from "./fake_model";

const EVIL = '<img src=x onerror="window.__xss=1">';
const CLEAN = ["When", " Mary", " and", " John", EVIL];
const CORRUPT = ["When", " John", " and", " Mary", EVIL];
// [layers = 2, positions = 5]
const VALUES = [
  [0, 0.9, 0, -0.25, 1],
  [0, 0.1, 0, 0.88, 1],
];

function payload(flat: number[], shape: number[]) {
  return { ...f32(flat), shape } as PatchingModel["values"];
}

function setup(patch: Partial<PatchingModel> = {}) {
  const model = fakeModel<PatchingModel>({
    values: f32(VALUES) as PatchingModel["values"],
    site: "resid_pre",
    positions: "each",
    method: "exact",
    metric: "logit(' Mary') - logit(' John')",
    clean_metric: 3.5,
    corrupted_metric: -2.25,
    clean_tokens: CLEAN,
    corrupted_tokens: CORRUPT,
    title: "tiny",
    selected_cell: [-1, -1, -1],
    top_cell: [-1, -1, -1],
    top_tokens: [],
    top_probs: payload([], [0]),
    busy: false,
    error: "",
    interactive: true,
    n_model_heads: 4,
    ablated_heads: [],
    ablate_mode: "zero",
    ablation: {},
    ablation_busy: false,
    ablation_error: "",
    can_ablate: true,
    theme: "auto",
    ...patch,
  });
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = widget.render({ model, el });
  return { model, el, cleanup };
}

/** A mouse event at a cell's centre (offsetX/offsetY in CSS pixels, as the view reads them). */
function mouse(type: string, col: number, row: number, w = POS_W): MouseEvent {
  const ev = new MouseEvent(type, { bubbles: true });
  Object.defineProperty(ev, "offsetX", { value: (col + 0.5) * w });
  Object.defineProperty(ev, "offsetY", { value: (row + 0.5) * ROW_H });
  return ev;
}

afterEach(() => {
  document.body.replaceChildren();
});

describe("PatchingView", () => {
  it("draws a layers x positions grid with token and layer labels", () => {
    const { el } = setup();
    const root = el.querySelector<HTMLElement>(".iw-patching")!;
    expect(root.dataset.busy).toBe("false");
    const canvas = el.querySelector<HTMLCanvasElement>("canvas.iw-patch-grid")!;
    expect(canvas.dataset.cellWidth).toBe(String(POS_W));
    expect(canvas.dataset.cellHeight).toBe(String(ROW_H));
    expect(canvas.style.width).toBe(`${5 * POS_W}px`);
    expect(canvas.style.height).toBe(`${2 * ROW_H}px`);
    const cols = el.querySelectorAll<HTMLElement>(".iw-token[data-index]");
    expect(cols).toHaveLength(5);
    // Clean token over the corrupted one where they differ.
    expect(cols[1].querySelector(".iw-patch-clean-tok")!.textContent).toBe("·Mary");
    expect(cols[1].querySelector(".iw-patch-corrupt:not(.iw-patch-same)")!.textContent).toBe("·John");
    expect(cols[2].querySelector(".iw-patch-corrupt:not(.iw-patch-same)")).toBeNull();
    expect([...el.querySelectorAll<HTMLElement>(".iw-layer")].map((e) => e.dataset.layer)).toEqual(["0", "1"]);
    const legend = el.querySelector<HTMLElement>(".iw-legend")!;
    expect(legend.dataset.kind).toBe("diverging");
    expect(legend.querySelector(".iw-legend-min")!.textContent).toBe("-1");
    expect(legend.querySelector(".iw-legend-max")!.textContent).toBe("1");
    expect(el.querySelector(".iw-patch-metric .iw-v")!.textContent).toBe("logit(' Mary') - logit(' John')");
    expect(el.querySelector(".iw-patch-clean .iw-v")!.textContent).toBe("+3.500");
    expect(el.querySelector(".iw-patch-corrupted .iw-v")!.textContent).toBe("-2.250");
    expect(el.querySelector(".iw-patch-site .iw-v")!.textContent).toBe("resid_pre (each position)");
    expect(el.querySelector(".iw-error:not([hidden])")).toBeNull();
  });

  it("shows a cell's value on hover", () => {
    const { el } = setup();
    const canvas = el.querySelector<HTMLCanvasElement>("canvas.iw-patch-grid")!;
    canvas.dispatchEvent(mouse("mousemove", 3, 1));
    const tip = el.querySelector<HTMLElement>(".iw-tooltip")!;
    expect(tip.hidden).toBe(false);
    expect(tip.textContent).toContain("L1 · ' John' : +0.88");
    expect(tip.textContent).toContain("corrupted ' Mary'");
    canvas.dispatchEvent(new MouseEvent("mouseleave"));
    expect(tip.hidden).toBe(true);
    canvas.dispatchEvent(mouse("mousemove", 3, 1));
    expect(tip.hidden).toBe(false);
    el.querySelector(".iw-patch-grid-wrap")!.dispatchEvent(new Event("scroll"));
    expect(tip.hidden).toBe(true); // a scroll puts another cell under the pointer
  });

  it("click sets selected_cell; Python's top tokens render with the cell's value", async () => {
    const { el, model } = setup();
    const canvas = el.querySelector<HTMLCanvasElement>("canvas.iw-patch-grid")!;
    expect(el.querySelector(".iw-patch-empty")).not.toBeNull();
    canvas.dispatchEvent(mouse("click", 3, 1));
    expect(model.get("selected_cell")).toEqual([1, 3, -1]);
    expect(model.saved).toBe(1);
    expect(el.querySelector(".iw-layer[data-layer='1']")!.classList.contains("iw-sel")).toBe(true);
    // Python: busy, then the list.
    model.push({ busy: true });
    const root = el.querySelector<HTMLElement>(".iw-patching")!;
    expect(root.dataset.busy).toBe("true");
    expect(el.querySelector<HTMLElement>(".iw-patch-busy")!.hidden).toBe(false);
    canvas.dispatchEvent(mouse("click", 1, 0)); // ignored while busy
    expect(model.get("selected_cell")).toEqual([1, 3, -1]);
    model.push({ top_cell: [1, 3, -1], top_tokens: [" Mary", " John", EVIL], top_probs: payload([0.5, 0.25, 0.125], [3]) });
    model.push({ busy: false });
    await tick();
    expect(root.dataset.busy).toBe("false");
    const box = el.querySelector<HTMLElement>(".iw-patch-cell[data-layer='1'][data-position='3'][data-head='-1']")!;
    expect(box).not.toBeNull();
    expect(box.querySelector(".iw-patch-cap")!.textContent).toBe("L1 · ' John' patched → +0.88");
    const items = box.querySelectorAll<HTMLElement>(".iw-top-token");
    expect([...items].map((i) => i.querySelector(".iw-tt-text")!.textContent)).toEqual(["·Mary", "·John", EVIL]);
    expect([...items].map((i) => i.dataset.token)).toEqual([" Mary", " John", EVIL]);
    expect(items[0].querySelector(".iw-tt-p")!.textContent).toBe("50.0%");
    expect(items[1].querySelector<HTMLElement>(".iw-tt-bar")!.style.width).toBe("50%");
    expect(el.querySelector("img")).toBeNull();
  });

  it("shows Python's errors in the view", () => {
    const { el, model } = setup();
    model.push({ error: "RuntimeError: out of memory" });
    const err = el.querySelector<HTMLElement>(".iw-error:not([hidden])")!;
    expect(err.textContent).toBe("RuntimeError: out of memory");
    model.push({ error: "" });
    expect(el.querySelector(".iw-error:not([hidden])")).toBeNull();
    // Bad data: an error box, never a blank view.
    const { el: el2 } = setup({ values: payload([1, 2, 3, 4], [1, 2, 2]) });
    expect(el2.querySelector(".iw-error:not([hidden])")!.textContent).toMatch(/values must be/);
    const { el: el3 } = setup({ values: payload([0, NaN, 1, 0, 0, 0, 0, 0, 0, 0], [2, 5]) });
    expect(el3.querySelector(".iw-error:not([hidden])")!.textContent).toMatch(/non-finite/);
  });

  it("explains all-NaN values (equal metrics) instead of drawing", () => {
    const { el } = setup({ values: payload(new Array(10).fill(NaN), [2, 5]), clean_metric: 1, corrupted_metric: 1 });
    const nan = el.querySelector<HTMLElement>(".iw-patch-nan")!;
    expect(nan.hidden).toBe(false);
    expect(nan.textContent).toMatch(/same metric \(\+1\.000 and \+1\.000\)/);
    expect(el.querySelector<HTMLElement>(".iw-patch-body")!.hidden).toBe(true);
    expect(el.querySelector(".iw-error:not([hidden])")).toBeNull();
  });

  it("static mode: a click shows a note, hover still works, an exported list stays", () => {
    const { el, model } = setup({
      interactive: false,
      top_cell: [0, 1, -1],
      top_tokens: [" Mary"],
      top_probs: payload([0.75], [1]),
    });
    const canvas = el.querySelector<HTMLCanvasElement>("canvas.iw-patch-grid")!;
    expect(el.querySelectorAll(".iw-patch-cell[data-layer='0'] .iw-top-token")).toHaveLength(1);
    expect(el.querySelector<HTMLElement>(".iw-patch-note")!.hidden).toBe(true);
    canvas.dispatchEvent(mouse("click", 3, 1));
    expect(model.get("selected_cell")).toEqual([-1, -1, -1]);
    expect(model.saved).toBe(0);
    const note = el.querySelector<HTMLElement>(".iw-patch-note")!;
    expect(note.hidden).toBe(false);
    expect(note.textContent).toMatch(/Python is needed/);
    expect(el.querySelectorAll(".iw-top-token")).toHaveLength(1);
    canvas.dispatchEvent(mouse("mousemove", 1, 0));
    expect(el.querySelector(".iw-tooltip")!.textContent).toContain("L0 · ' Mary' : +0.90");
  });

  it("[layers, heads, positions]: a position select, the sum, and clicks with the head", () => {
    // 2 layers, 2 heads, 5 positions
    const flat: number[] = [];
    for (let l = 0; l < 2; l++) for (let h = 0; h < 2; h++) for (let p = 0; p < 5; p++) flat.push(l + h * 0.1 + p * 0.01);
    const { el, model } = setup({ site: "z", values: payload(flat, [2, 2, 5]) });
    const canvas = el.querySelector<HTMLCanvasElement>("canvas.iw-patch-grid")!;
    expect(canvas.dataset.cellWidth).toBe(String(HEAD_W));
    expect(el.querySelectorAll(".iw-patch-head[data-head]")).toHaveLength(2);
    const select = el.querySelector<HTMLSelectElement>("select.iw-patch-pos")!;
    expect(select.options).toHaveLength(6);
    expect(select.value).toBe("-1");
    canvas.dispatchEvent(mouse("mousemove", 1, 1, HEAD_W));
    // Sum over positions of 1 + 0.1 + p * 0.01 for p = 0..4 = 5.6.
    expect(el.querySelector(".iw-tooltip")!.textContent).toContain("L1H1 · Σ positions : +5.60");
    canvas.dispatchEvent(mouse("click", 1, 1, HEAD_W));
    expect(model.get("selected_cell")).toEqual([1, -1, 1]);
    select.value = "3";
    select.dispatchEvent(new Event("change"));
    const c2 = el.querySelector<HTMLCanvasElement>("canvas.iw-patch-grid")!;
    c2.dispatchEvent(mouse("mousemove", 0, 1, HEAD_W));
    expect(el.querySelector(".iw-tooltip")!.textContent).toContain("L1H0 · ' John' : +1.03");
    c2.dispatchEvent(mouse("click", 0, 1, HEAD_W));
    expect(model.get("selected_cell")).toEqual([1, 3, 0]);
  });

  it("[layers, heads] and [layers] shapes", () => {
    const { el, model } = setup({ site: "z", positions: "all", values: payload([0.5, -0.5, 1, 0], [2, 2]) });
    const canvas = el.querySelector<HTMLCanvasElement>("canvas.iw-patch-grid")!;
    expect(el.querySelector("select.iw-patch-pos")!.closest<HTMLElement>(".iw-patch-controls")!.hidden).toBe(true);
    canvas.dispatchEvent(mouse("mousemove", 1, 0, HEAD_W));
    expect(el.querySelector(".iw-tooltip")!.textContent).toContain("L0H1 : -0.50");
    canvas.dispatchEvent(mouse("click", 1, 0, HEAD_W));
    expect(model.get("selected_cell")).toEqual([0, -1, 1]);

    const { el: el2, model: m2 } = setup({ positions: "all", values: payload([0.25, 2], [2]) });
    const c2 = el2.querySelector<HTMLCanvasElement>("canvas.iw-patch-grid")!;
    expect(c2.style.width).toBe("56px");
    expect([...el2.querySelectorAll(".iw-patch-num")].map((e) => e.textContent)).toEqual(["+0.25", "+2.00"]);
    expect(el2.querySelector(".iw-legend-max")!.textContent).toBe("2");
    c2.dispatchEvent(mouse("click", 0, 1, 56));
    expect(m2.get("selected_cell")).toEqual([1, -1, -1]);
  });

  it("renders tokens as text only and cleans up its listeners", () => {
    const { el, model, cleanup } = setup();
    expect(el.querySelector(".iw-token[data-index='4'] .iw-patch-clean-tok")!.textContent).toBe(EVIL);
    expect(el.querySelector("img")).toBeNull();
    expect((globalThis as Record<string, unknown>).__xss).toBeUndefined();
    expect(model.listenerCount()).toBeGreaterThan(0);
    cleanup();
    expect(model.listenerCount()).toBe(0);
    expect(el.querySelector(".iw-patching")).toBeNull();
  });

  it("formats values and tokens", () => {
    expect(signed(0.876)).toBe("+0.88");
    expect(signed(-0.001)).toBe("+0.00");
    expect(quoted(" John\n")).toBe("' John↵'");
  });
});

describe("PatchingView on a long prompt", () => {
  it("sizes the stage to every position but paints only those in view, and follows the scroll", () => {
    const n = 900; // 39,600 px of positions: one canvas that wide would pass the browser's limit
    const row = Array.from({ length: n }, (_, i) => (i % 7) / 7);
    const toks = Array.from({ length: n }, (_, i) => ` t${i}`);
    const { el, model } = setup({ values: f32([row, row]) as PatchingModel["values"], clean_tokens: toks, corrupted_tokens: toks });
    const stage = el.querySelector<HTMLElement>(".iw-patch-stage")!;
    const canvas = stage.querySelector("canvas")!;
    expect(stage.style.width).toBe(`${n * POS_W}px`);
    expect(canvas.width).toBeLessThan(4000);
    const wrap = el.querySelector<HTMLElement>(".iw-patch-grid-wrap")!;
    wrap.scrollLeft = 500 * POS_W;
    wrap.dispatchEvent(new Event("scroll"));
    const left = parseFloat(canvas.style.left);
    expect(left).toBeGreaterThan(450 * POS_W);
    expect(left).toBeLessThanOrEqual(500 * POS_W);
    // a click on the canvas maps to the grid's column, not the canvas's
    canvas.dispatchEvent(new MouseEvent("click", { clientX: 5, clientY: ROW_H + 5, bubbles: true }));
    const sel = model.get("selected_cell");
    expect([sel[0], sel[1]]).toEqual([1, Math.floor((left + 5) / POS_W)]);
  });
});
