/**
 * Canvas helpers shared by the views that paint grids (DLA heads, patching effects, the
 * superposition toy's WᵀW, the logit lens) and lines (attention).
 */

/** The device pixel ratio (1 outside a browser). */
export function pixelRatio(): number {
  return typeof devicePixelRatio === "number" && devicePixelRatio > 0 ? devicePixelRatio : 1;
}

/**
 * Size `canvas` to `width` x `height` CSS pixels with a backing store at the device pixel
 * ratio (capped so that neither side exceeds `maxSide` device pixels: browsers refuse larger
 * canvases). Returns the ratio used.
 */
export function sizeCanvas(canvas: HTMLCanvasElement, width: number, height: number, maxSide = 32000): number {
  const dpr = Math.max(Math.min(1, pixelRatio()), Math.min(pixelRatio(), maxSide / Math.max(width, height, 1)));
  const w = Math.round(width * dpr);
  const h = Math.round(height * dpr);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  } else {
    // same size: keep the backing store (a repaint while scrolling reallocated it), cleared
    // as a resize would
    const ctx = context2d(canvas, 1);
    ctx?.clearRect(0, 0, w, h);
  }
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  return dpr;
}

/**
 * The canvas's 2-D context with its transform set to `dpr` (so drawing is in CSS pixels), or
 * null where there is no canvas implementation (unit tests).
 */
export function context2d(canvas: HTMLCanvasElement, dpr = pixelRatio()): CanvasRenderingContext2D | null {
  let ctx: CanvasRenderingContext2D | null = null;
  try {
    ctx = canvas.getContext("2d");
  } catch {
    ctx = null;
  }
  ctx?.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

export interface GridOutline {
  row: number;
  col: number;
  color: string;
  width: number;
}

export interface GridPaint {
  rows: number;
  cols: number;
  /** Cell size in CSS pixels. */
  cellW: number;
  cellH: number;
  /** Painted behind the cells: it shows as a 1 px gap between them. */
  background: string;
  color(row: number, col: number): string;
  /** Rectangles drawn over cells (hover, selection), in order. */
  outlines?: GridOutline[];
  /** Only columns `from` (inclusive) to `to` (exclusive): a window of a very wide grid. */
  from?: number;
  to?: number;
}

/** Paint a rows x cols grid of coloured cells with 1 px gaps, then the outlines (in grid
 * coordinates: a window `from`..`to` is drawn where it lies in the whole grid). */
export function paintGrid(ctx: CanvasRenderingContext2D, g: GridPaint): void {
  const from = Math.max(0, g.from ?? 0);
  const to = Math.min(g.cols, g.to ?? g.cols);
  ctx.fillStyle = g.background;
  ctx.fillRect(from * g.cellW, 0, Math.max(0, to - from) * g.cellW, g.rows * g.cellH);
  for (let r = 0; r < g.rows; r++) {
    for (let c = from; c < to; c++) {
      ctx.fillStyle = g.color(r, c);
      ctx.fillRect(c * g.cellW + 0.5, r * g.cellH + 0.5, g.cellW - 1, g.cellH - 1);
    }
  }
  for (const o of g.outlines ?? []) {
    if (o.row < 0 || o.col < from || o.row >= g.rows || o.col >= to) continue;
    ctx.strokeStyle = o.color;
    ctx.lineWidth = o.width;
    ctx.strokeRect(o.col * g.cellW + o.width / 2, o.row * g.cellH + o.width / 2, g.cellW - o.width, g.cellH - o.width);
  }
}

/** Columns painted beyond each side of the view, so that short scrolls need no repaint. */
export const WINDOW_MARGIN = 16;

/**
 * A canvas that covers only the columns of a wide grid in view of `scroller` (plus
 * `WINDOW_MARGIN` each side), positioned at their place in the grid: one canvas as wide as
 * thousands of columns would pass the browser's canvas limit (32,767 px) and its memory.
 * `origin()` is where the grid starts in the scroller's content (CSS px).
 */
export function createColumnWindow(canvas: HTMLCanvasElement, scroller: HTMLElement, origin: () => number = () => 0) {
  let painted: [number, number] = [0, 0];
  /** The columns in view, widened by `margin` each side. */
  const wanted = (cols: number, cellW: number, margin = WINDOW_MARGIN): [number, number] => {
    const first = Math.floor(Math.max(0, scroller.scrollLeft - origin()) / cellW);
    const view = scroller.clientWidth || 1600;
    return [Math.max(0, first - margin), Math.min(cols, first + Math.ceil(view / cellW) + 1 + margin)];
  };
  return {
    /** Place and size the canvas for the columns in view; its context draws in grid
     * coordinates. Null where there is no canvas implementation (unit tests). */
    begin(cols: number, cellW: number, height: number): { ctx: CanvasRenderingContext2D; from: number; to: number } | null {
      const [from, to] = (painted = wanted(cols, cellW));
      canvas.style.left = `${from * cellW}px`;
      const dpr = sizeCanvas(canvas, Math.max(1, (to - from) * cellW), height);
      const ctx = context2d(canvas, dpr);
      if (!ctx) return null;
      ctx.setTransform(dpr, 0, 0, dpr, -from * cellW * dpr, 0);
      return { ctx, from, to };
    },
    /** True when columns now in view are not on the canvas (after a scroll or a resize):
     * a scroll within the margin needs no repaint. */
    stale(cols: number, cellW: number): boolean {
      const [from, to] = wanted(cols, cellW, 0);
      return from < painted[0] || to > painted[1];
    },
    /** Where the canvas starts in the grid (CSS px). */
    left(): number {
      return parseFloat(canvas.style.left) || 0;
    },
  };
}
