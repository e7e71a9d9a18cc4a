/**
 * AttentionView: every layer x head as a canvas thumbnail (sortable by a head detector's
 * score), and the query x key matrix of the clicked head with token labels, or a line view
 * (queries left, keys right, lines weighted by attention) for short texts.
 * Python: interp_widgets/views/attention.py (same trait names).
 *
 * Data: `thumbs` is uint8 [layers, heads, T, T], each byte round(255 * sqrt(weight))
 * (max-pooled to T x T for texts longer than the cap). `head_pattern` is the selected head in
 * full (float32 [n, n]), sent by Python on selection; `head_pattern_of` names its
 * [layer, head]. Until it arrives (and always in a static export) the enlarged view shows the
 * thumbnail bytes. Colours show sqrt(weight) on a sequential scale, so that weak but real
 * attention stays visible next to a sharp head.
 *
 * Switching heads off: the "switch off" toggle on the opened head (or alt/shift-click, or
 * "x" on a focused thumbnail) edits `ablated_heads`; Python re-runs the model and fills the
 * "Next token: before → after" panel (lib/ablation_panel.ts). Switched-off heads are greyed
 * and crossed out in the overview.
 */
import type { RenderProps } from "@anywidget/types";
import { rgb } from "d3-color";
import {
  ABLATION_CSS,
  ABLATION_TRAITS,
  ablateToggle,
  createAblationPanel,
  isAblated,
  syncToggle,
  toggleHead,
  type AblationHost,
  type AblationTraits,
} from "../lib/ablation_panel";
import { decodeArray, type ArrayPayload, type NDArray } from "../lib/codec";
import { createErrorBox } from "../lib/error";
import { format4 } from "../lib/format";
import { renderLegend } from "../lib/legend";
import { makeScale, type ColorScale } from "../lib/scale";
import { coalesce } from "../lib/schedule";
import { context2d, sizeCanvas } from "../lib/canvas";
import { createViewShell } from "../lib/shell";
import { type ThemeOption } from "../lib/theme";
import { displayToken, renderTokens, tokenFromEvent } from "../lib/tokens";

export interface AttentionModel extends AblationTraits {
  tokens: string[];
  thumbs: ArrayPayload | null;
  thumb_encoding: string;
  detectors: string[];
  head_scores: ArrayPayload | null;
  causal: boolean;
  /** Index of the second sentence's first token (a sentence pair), or -1. */
  pair_start?: number;
  title: string;
  selected_layer: number;
  selected_head: number;
  head_pattern: ArrayPayload | null;
  head_pattern_of: number[];
  selected_token: number;
  sort_by: string;
  detector: string;
  line_view: boolean;
  error: string;
  theme: ThemeOption;
}

/** Texts up to this many tokens get the line view toggle. */
export const LINE_VIEW_MAX = 64;
/** Labels are tinted and marked `iw-hl` from this attention weight up. */
const HL_MIN = 0.05;
/** Matrix cells smaller than this (px) get no token labels. */
const LABEL_MIN_CELL = 9;

const CSS = `${ABLATION_CSS}
.iw-attention .iw-controls { display: inline-flex; gap: 6px 12px; align-items: center; flex-wrap: wrap; font-size: 12px; color: var(--iw-muted); }
.iw-attention select, .iw-attention button { font: inherit; font-size: 12px; color: var(--iw-fg); background: var(--iw-panel);
  border: 1px solid var(--iw-border); border-radius: 4px; padding: 1px 6px; }
.iw-attention button { cursor: pointer; }
.iw-attention button[aria-pressed="true"] { border-color: var(--iw-accent); box-shadow: inset 0 0 0 1px var(--iw-accent); }
.iw-attention button[hidden] { display: none; }
.iw-att-body { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.iw-overview { max-height: 640px; overflow: auto; padding: 2px 4px 4px 2px; flex: 0 0 auto; }
.iw-thumbs { display: grid; gap: 4px; align-items: center; justify-items: center; }
.iw-thumbs .iw-axis { font-size: 10px; color: var(--iw-muted); font-family: var(--iw-mono); white-space: nowrap; }
.iw-thumb { position: relative; box-sizing: border-box; width: var(--iw-thumb); border-radius: 3px; cursor: pointer;
  outline: 1px solid var(--iw-border); background: var(--iw-bg); }
.iw-thumb canvas { display: block; width: var(--iw-thumb); height: var(--iw-thumb); border-radius: 3px; }
.iw-thumb:hover { outline: 1px solid var(--iw-fg); }
.iw-thumb:focus-visible { outline: 2px dashed var(--iw-accent); }
.iw-thumb.iw-active { outline: 2px solid var(--iw-accent); outline-offset: 1px; }
.iw-thumb.iw-ablated canvas { filter: grayscale(1); opacity: 0.35; }
.iw-thumb.iw-ablated::after { content: ""; position: absolute; inset: 0; pointer-events: none; border-radius: 3px;
  background: linear-gradient(to top right, transparent calc(50% - 1px), var(--iw-error-fg) calc(50% - 1px), var(--iw-error-fg) calc(50% + 1px), transparent calc(50% + 1px)); }
.iw-attention .iw-ablate-toggle[aria-pressed="true"] { border-color: var(--iw-error-fg); color: var(--iw-error-fg); box-shadow: none; }
.iw-attention button:disabled { cursor: not-allowed; opacity: 0.55; }
.iw-attention .iw-ablation { flex: 0 1 330px; }
.iw-thumb-score { position: absolute; top: 1px; right: 2px; font-size: 9px; line-height: 1; font-family: var(--iw-mono);
  color: var(--iw-fg); background: var(--iw-bg); opacity: 0.85; padding: 1px 2px; border-radius: 2px; pointer-events: none; }
.iw-thumb-bar { position: absolute; left: 0; bottom: 0; height: 3px; background: var(--iw-accent); border-radius: 0 2px 0 3px; pointer-events: none; }
.iw-thumb-caption { display: block; font-size: 9px; text-align: center; color: var(--iw-muted); font-family: var(--iw-mono); padding: 1px 0; }
.iw-detail { flex: 1 1 420px; min-width: 0; }
.iw-detail-head { display: flex; flex-wrap: wrap; gap: 4px 12px; align-items: baseline; margin-bottom: 6px; }
.iw-detail-title { font-weight: 600; }
.iw-detail-scores { font-size: 11px; color: var(--iw-muted); font-family: var(--iw-mono); }
.iw-head-matrix { max-height: 640px; overflow: auto; }
.iw-mgrid { display: grid; grid-template-columns: max-content max-content; }
.iw-mgrid .iw-token, .iw-lines .iw-token { display: block; margin: 0; padding: 0 3px; border-radius: 2px; box-sizing: border-box;
  overflow: hidden; text-overflow: ellipsis; white-space: pre; overflow-wrap: normal; cursor: pointer; min-width: 0; }
/* Labels stay in view while a long matrix scrolls; each hugs its text (tints fit the token). */
.iw-qlabels { display: flex; flex-direction: column; align-items: flex-end; position: sticky; left: 0; z-index: 1; background: var(--iw-bg); padding-right: 2px; }
.iw-qlabels .iw-token { text-align: right; max-width: 12em; }
.iw-klabels { display: flex; align-items: flex-end; position: sticky; top: 0; z-index: 1; background: var(--iw-bg); padding-bottom: 2px; }
.iw-mcorner { position: sticky; left: 0; top: 0; z-index: 2; background: var(--iw-bg); }
.iw-klabels .iw-token { writing-mode: vertical-rl; transform: rotate(180deg); text-align: left; padding: 3px 0; max-height: 7em; }
.iw-mgrid .iw-token.iw-hl, .iw-lines .iw-token.iw-hl { box-shadow: none; }
.iw-mgrid .iw-token.iw-focus, .iw-lines .iw-token.iw-focus { outline: 2px solid var(--iw-accent); outline-offset: -1px; }
.iw-cells { position: relative; line-height: 0; }
.iw-cells canvas { image-rendering: pixelated; display: block; cursor: crosshair; border: 1px solid var(--iw-border); }
.iw-stripe { position: absolute; pointer-events: none; box-sizing: border-box; border: 1.5px solid var(--iw-accent); }
.iw-stripe[hidden] { display: none; }
.iw-readout { min-height: 1.5em; margin-top: 6px; font-size: 12px; font-family: var(--iw-mono); white-space: pre; overflow: hidden; text-overflow: ellipsis; }
.iw-lines { display: grid; grid-template-columns: max-content max-content max-content; justify-content: start; align-items: start; font-family: var(--iw-mono); }
.iw-lines .iw-col { display: flex; flex-direction: column; }
.iw-lines .iw-col-head { font-size: 10px; color: var(--iw-muted); font-family: var(--iw-ui); height: 16px; }
.iw-lines .iw-token { height: 20px; line-height: 20px; max-width: 12em; }
.iw-lines .iw-q .iw-token { text-align: right; }
.iw-lines .iw-k .iw-token { text-align: left; }
.iw-lines .iw-token.iw-pair-start { box-shadow: inset 0 2px 0 var(--iw-muted); }
.iw-attention .iw-pair-divider { position: absolute; background: var(--iw-muted); opacity: 0.8; pointer-events: none; }
.iw-attention .iw-pair-row { left: 0; right: 0; height: 1px; }
.iw-attention .iw-pair-col { top: 0; bottom: 0; width: 1px; }
.iw-lines canvas { display: block; margin-top: 16px; }
`;

interface HeadData {
  /** Side of the matrix: n tokens, or T pooled blocks. */
  size: number;
  /** Token span of block i (one token unless pooled). */
  span(i: number): [number, number];
  /** Attention weight of (query, key) in [0, 1]. */
  weight(q: number, k: number): number;
  /** Byte 0..255 for the colour LUT (255 * sqrt(weight)). */
  byte(q: number, k: number): number;
  /** "full", "preview" (thumbnail bytes, one cell per token) or "pooled". */
  kind: "full" | "preview" | "pooled";
}

/** An <option> (happy-dom has no `Option` constructor). */
function option(text: string, value: string): HTMLOptionElement {
  const o = document.createElement("option");
  o.textContent = text;
  o.value = value;
  return o;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
/** A badge: detector scores in [0, 1] as ".84"; anything else (your own scores) as a short number. */
const shortScore = (v: number) => {
  if (v >= 0 && v < 0.995) return v.toFixed(2).replace(/^0/, "");
  if (v >= 0.995 && v <= 1) return "1.0";
  const a = Math.abs(v);
  return a >= 100 ? v.toExponential(0).replace("e+", "e") : v.toPrecision(2).replace(/^(-?)0\./, "$1.");
};

/** RGBA pixels (little-endian Uint32) of each byte 0..255 on the scale. */
function pixelLut(scale: ColorScale): Uint32Array {
  const lut = new Uint32Array(256);
  for (let b = 0; b < 256; b++) {
    const c = rgb(scale.color(b / 255));
    lut[b] = ((255 << 24) | (c.b << 16) | (c.g << 8) | c.r) >>> 0;
  }
  return lut;
}

/** Paint a square block of bytes (`side` x `side` from `offset`) onto a canvas. */
function paint(canvas: HTMLCanvasElement, side: number, lut: Uint32Array, byteAt: (i: number) => number, img?: ImageData): ImageData | undefined {
  let ctx: CanvasRenderingContext2D | null = null;
  try {
    ctx = canvas.getContext("2d");
  } catch {
    ctx = null; // no canvas (tests without a canvas implementation)
  }
  if (!ctx) return img;
  const data = img ?? ctx.createImageData(side, side);
  const px = new Uint32Array(data.data.buffer);
  for (let i = 0; i < side * side; i++) px[i] = lut[byteAt(i)];
  ctx.putImageData(data, 0, 0);
  return data;
}

function render({ model, el }: Pick<RenderProps<AttentionModel>, "model" | "el">): () => void {
  const shell = createViewShell(el, model, "iw-attention", CSS, { progress: false });
  const { root, title, dataError } = shell;
  shell.summary.remove(); // the header holds the title, the controls and the legend

  const controls = document.createElement("div");
  controls.className = "iw-controls";
  const sortSel = document.createElement("select");
  sortSel.className = "iw-sort";
  sortSel.setAttribute("aria-label", "order of the heads");
  const scoreSel = document.createElement("select");
  scoreSel.className = "iw-score";
  scoreSel.setAttribute("aria-label", "detector score shown on the heads");
  const sortLabel = document.createElement("label");
  sortLabel.append("order ", sortSel);
  const scoreLabel = document.createElement("label");
  scoreLabel.append("score ", scoreSel);
  controls.append(sortLabel, scoreLabel);
  const legendSlot = document.createElement("div");
  shell.header.append(controls, legendSlot);

  const body = document.createElement("div");
  body.className = "iw-att-body";
  const overview = document.createElement("div");
  overview.className = "iw-overview";
  const detail = document.createElement("div");
  detail.className = "iw-detail";
  const host = model as unknown as AblationHost;
  const panel = createAblationPanel(host);
  // Switching heads off compares output distributions (the next token; a masked LM's [MASK],
  // a classifier's classes: Python says so with can_ablate). A bare encoder has none, and
  // patterns without a model behind them (your own, or a saved result) cannot be re-run, so
  // those views have no panel, toggle or alt-click (an export keeps a panel computed before it).
  const ablatable =
    model.get("can_ablate") === true || (model.get("ablated_heads") ?? []).length > 0 ||
    (model.get("causal") !== false && model.get("can_ablate") !== false);
  if (!ablatable) panel.el.hidden = true;
  body.append(overview, detail, panel.el);
  root.append(body);

  // State of the current drawing.
  let thumbs: NDArray | null = null; // uint8 [L, H, T, T]
  let L = 0;
  let H = 0;
  let T = 0;
  let scores: NDArray | null = null; // float32 [D, L, H]
  let scale: ColorScale | null = null;
  let lut: Uint32Array = new Uint32Array(256);
  let thumbEls: HTMLDivElement[] = [];
  let head: HeadData | null = null;
  let qLabels: HTMLElement[] = [];
  let kLabels: HTMLElement[] = [];
  let cell = 0;
  let rowStripe: HTMLDivElement | null = null;
  let colStripe: HTMLDivElement | null = null;
  let readout: HTMLDivElement | null = null;
  let drawLines: ((focus: number) => void) | null = null;
  let pinned = -1; // token fixed by a click (-1: none); hovering previews others
  let lastHover = ""; // mousemove fires per pixel: redo the highlight only when it changes

  const tokens = () => model.get("tokens") ?? [];
  const detectors = () => model.get("detectors") ?? [];
  const score = (d: number, l: number, h: number) => (scores ? scores.data[(d * L + l) * H + h] : NaN);

  // -- overview -----------------------------------------------------------------------

  const draw = () => {
    const resolved = shell.theme();
    title.textContent = model.get("title") ?? "";
    title.hidden = !title.textContent;
    const problems: string[] = [];
    thumbs = null;
    scores = null;
    try {
      const t = decodeArray(model.get("thumbs"));
      if (!t) problems.push("no thumbnails were sent");
      else if (t.dtype !== "uint8") problems.push(`thumbnails must be uint8, got ${t.dtype}`);
      else if (t.shape.length !== 4 || t.shape[2] !== t.shape[3]) {
        problems.push(`thumbnails must be [layers, heads, T, T], got [${t.shape.join(", ")}]`);
      } else if (t.shape[2] > tokens().length) {
        problems.push(`thumbnails of ${t.shape[2]} x ${t.shape[2]} for only ${tokens().length} tokens`);
      } else thumbs = t;
    } catch (e) {
      problems.push(`thumbnails could not be read: ${(e as Error).message}`);
    }
    if (tokens().length === 0) problems.push("no tokens to show");
    if (thumbs) [L, H, T] = thumbs.shape;
    else [L, H, T] = [0, 0, 0];
    try {
      const s = decodeArray(model.get("head_scores"));
      const D = detectors().length;
      if (s && thumbs) {
        if (s.shape.length !== 3 || s.shape[0] !== D || s.shape[1] !== L || s.shape[2] !== H) {
          problems.push(`head scores must be [${D}, ${L}, ${H}], got [${s.shape.join(", ")}]`);
        } else scores = s;
      }
    } catch (e) {
      problems.push(`head scores could not be read: ${(e as Error).message}`);
    }
    dataError.set(problems.length ? `Cannot draw the attention heads: ${problems.join("; ")}.` : "");

    scale = makeScale({ kind: "sequential", domain: [0, 1], ...resolved });
    lut = pixelLut(scale);
    legendSlot.replaceChildren(renderLegend(scale, "attention (√ scale)"));
    // Legend ends are weights: sqrt keeps 0 and 1 where they are.

    fillSelects();
    buildThumbs();
    layoutGrid();
    renderDetail();
  };

  const fillSelects = () => {
    const names = scores ? detectors() : [];
    sortSel.replaceChildren(option("layer order", ""));
    scoreSel.replaceChildren(option("none", ""));
    for (const d of names) {
      sortSel.appendChild(option(`by ${d.replace(/_/g, " ")}`, d));
      scoreSel.appendChild(option(d.replace(/_/g, " "), d));
    }
    sortSel.value = names.includes(model.get("sort_by")) ? model.get("sort_by") : "";
    scoreSel.value = names.includes(model.get("detector")) ? model.get("detector") : "";
    sortSel.disabled = scoreSel.disabled = names.length === 0;
  };

  /** One canvas per head, painted once per data/theme change (reordering reuses them). */
  const buildThumbs = () => {
    thumbEls = [];
    if (!thumbs) return;
    const data = thumbs.data as Uint8Array;
    const proto = document.createElement("div");
    proto.className = "iw-thumb";
    proto.setAttribute("role", "button");
    proto.tabIndex = 0;
    let img: ImageData | undefined;
    const size = T * T;
    for (let l = 0; l < L; l++) {
      for (let h = 0; h < H; h++) {
        const div = proto.cloneNode(false) as HTMLDivElement;
        div.dataset.layer = String(l);
        div.dataset.head = String(h);
        const canvas = document.createElement("canvas");
        canvas.width = canvas.height = T;
        const offset = (l * H + h) * size;
        img = paint(canvas, T, lut, (i) => data[offset + i], img);
        div.appendChild(canvas);
        thumbEls.push(div);
      }
    }
  };

  /** Arrange the thumbnails in layer order or ranked by a detector, with score badges. */
  const layoutGrid = () => {
    overview.replaceChildren();
    if (!thumbs) {
      // Never a blank cell: at least the text.
      const line = document.createElement("div");
      line.className = "iw-tokens";
      line.appendChild(renderTokens(tokens()).fragment);
      overview.appendChild(line);
      return;
    }
    const names = detectors();
    const sortD = scores ? names.indexOf(model.get("sort_by")) : -1;
    const showD = scores ? names.indexOf(model.get("detector")) : -1;
    const px = clamp(Math.floor(440 / H), 28, 56);
    const grid = document.createElement("div");
    grid.className = "iw-thumbs";
    grid.style.setProperty("--iw-thumb", `${px}px`);
    overview.dataset.order = sortD >= 0 ? names[sortD] : "layer";

    for (const div of thumbEls) {
      const l = Number(div.dataset.layer);
      const h = Number(div.dataset.head);
      div.querySelectorAll(".iw-thumb-score, .iw-thumb-bar, .iw-thumb-caption").forEach((x) => x.remove());
      const parts = [`layer ${l}, head ${h}`];
      names.forEach((d, i) => scores && parts.push(`${d}: ${format4(score(i, l, h))}`));
      div.title = parts.join("\n");
      div.setAttribute("aria-label", parts[0]);
      if (showD >= 0) {
        const v = score(showD, l, h);
        const badge = document.createElement("span");
        badge.className = "iw-thumb-score";
        badge.textContent = shortScore(v);
        const bar = document.createElement("span");
        bar.className = "iw-thumb-bar";
        bar.style.width = `${clamp(v, 0, 1) * 100}%`;
        div.append(badge, bar);
      }
    }

    if (sortD < 0) {
      // Layer order: rows are layers, columns heads.
      grid.style.gridTemplateColumns = `auto repeat(${H}, var(--iw-thumb))`;
      grid.appendChild(axis(""));
      for (let h = 0; h < H; h++) grid.appendChild(axis(`H${h}`));
      for (let l = 0; l < L; l++) {
        grid.appendChild(axis(`L${l}`));
        for (let h = 0; h < H; h++) grid.appendChild(thumbEls[l * H + h]);
      }
    } else {
      // Ranked: the best-scoring heads first, each captioned with its layer and head.
      grid.style.gridTemplateColumns = `repeat(${Math.max(H, 6)}, var(--iw-thumb))`;
      const order = thumbEls.map((_, i) => i);
      const s = (i: number) => score(sortD, Math.floor(i / H), i % H);
      order.sort((a, b) => s(b) - s(a) || a - b);
      for (const i of order) {
        const div = thumbEls[i];
        const cap = document.createElement("span");
        cap.className = "iw-thumb-caption";
        cap.textContent = `L${div.dataset.layer}H${div.dataset.head}`;
        div.appendChild(cap);
        grid.appendChild(div);
      }
    }
    overview.appendChild(grid);
    markActive();
  };

  const axis = (text: string) => {
    const d = document.createElement("div");
    d.className = "iw-axis";
    d.textContent = text;
    return d;
  };

  const markActive = () => {
    const l = model.get("selected_layer");
    const h = model.get("selected_head");
    for (const div of thumbEls) {
      const on = Number(div.dataset.layer) === l && Number(div.dataset.head) === h;
      div.classList.toggle("iw-active", on);
      div.setAttribute("aria-pressed", String(on));
      const off = isAblated(host, Number(div.dataset.layer), Number(div.dataset.head));
      div.classList.toggle("iw-ablated", off);
      div.dataset.ablated = String(off);
    }
  };

  /** Toggles, greyed thumbnails and the panel, after an ablation trait changed. */
  const syncAblation = () => {
    markActive();
    detail.querySelectorAll<HTMLButtonElement>(".iw-ablate-toggle").forEach((b) => syncToggle(host, b));
    panel.update();
  };

  // -- the selected head -------------------------------------------------------------

  /** The selected head's data: Python's float32 pattern when it matches, else the thumbnail. */
  const headData = (l: number, h: number, problems: string[]): HeadData | null => {
    const n = tokens().length;
    const of = model.get("head_pattern_of") ?? [];
    if (of.length === 2 && of[0] === l && of[1] === h) {
      try {
        const p = decodeArray(model.get("head_pattern"));
        if (p && p.shape.length === 2 && p.shape[0] === n && p.shape[1] === n) {
          const d = p.data;
          return {
            size: n,
            kind: "full",
            span: (i) => [i, i],
            weight: (q, k) => d[q * n + k],
            byte: (q, k) => Math.round(255 * Math.sqrt(clamp(d[q * n + k], 0, 1))),
          };
        }
        if (p) problems.push(`head pattern must be [${n}, ${n}], got [${p.shape.join(", ")}]; showing the 8-bit preview`);
      } catch (e) {
        problems.push(`head pattern could not be read: ${(e as Error).message}; showing the 8-bit preview`);
      }
    }
    if (!thumbs) return null;
    const data = thumbs.data as Uint8Array;
    const offset = (l * H + h) * T * T;
    const byte = (q: number, k: number) => data[offset + q * T + k];
    const start = (i: number) => Math.floor((i * n) / T); // the blocks of Python's max-pool
    return {
      size: T,
      kind: T === n ? "preview" : "pooled",
      span: (i) => [start(i), (i + 1 < T ? start(i + 1) : n) - 1],
      weight: (q, k) => (byte(q, k) / 255) ** 2,
      byte,
    };
  };

  const renderDetail = () => {
    detail.replaceChildren();
    lastHover = "";
    head = null;
    qLabels = [];
    kLabels = [];
    rowStripe = colStripe = readout = null;
    drawLines = null;
    const l = model.get("selected_layer");
    const h = model.get("selected_head");
    const hint = document.createElement("div");
    hint.className = "iw-hint";
    if (!thumbs || l < 0 || h < 0 || l >= L || h >= H) {
      hint.textContent = !thumbs ? "" : ablatable
        ? "Click a head to open its query × key matrix; alt- or shift-click switches it off."
        : "Click a head to open its query × key matrix.";
      if (hint.textContent) detail.appendChild(hint);
      return;
    }
    const problems: string[] = [];
    head = headData(l, h, problems);
    if (!head) return;

    const top = document.createElement("div");
    top.className = "iw-detail-head";
    const name = document.createElement("span");
    name.className = "iw-detail-title";
    name.textContent = `Layer ${l} · Head ${h}`;
    const sc = document.createElement("span");
    sc.className = "iw-detail-scores";
    if (scores) sc.textContent = detectors().map((d, i) => `${d.replace(/_/g, " ")} ${format4(score(i, l, h))}`).join(" · ");
    const n = tokens().length;
    const canLines = head.kind !== "pooled" && n <= LINE_VIEW_MAX;
    const lines = canLines && !!model.get("line_view");
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "iw-lines-toggle";
    toggle.textContent = "line view";
    toggle.title = canLines ? "Show this head as lines between tokens" : `Line view needs ${LINE_VIEW_MAX} tokens or fewer`;
    toggle.setAttribute("aria-pressed", String(lines));
    toggle.disabled = !canLines;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "iw-close";
    close.textContent = "×";
    close.title = "Close this head";
    top.append(name, ...(ablatable ? [ablateToggle(host, l, h)] : []), toggle, close, sc);

    const box = document.createElement("div");
    box.className = "iw-head-matrix";
    box.dataset.layer = String(l);
    box.dataset.head = String(h);
    box.dataset.kind = head.kind;
    box.dataset.mode = lines ? "lines" : "matrix";
    if (lines) buildLines(box, head);
    else buildMatrix(box, head);

    readout = document.createElement("div");
    readout.className = "iw-readout";
    if (head.kind === "preview") hint.textContent = "8-bit preview of this head (full precision needs Python).";
    else if (head.kind === "pooled") {
      hint.textContent = `Max-pooled preview: ${T} × ${T} blocks of about ${Math.ceil(n / T)} tokens each (full resolution needs Python).`;
    } else hint.textContent = "Hover a token or a cell: what it attends to, and what attends to it. Click to pin.";
    const err = createErrorBox();
    err.set(problems.join("; "));
    detail.append(top, err.el, box, readout, hint);
    applyFocus();
  };

  /** The query x key matrix on a canvas, with token labels down the left and along the top. */
  const buildMatrix = (box: HTMLElement, d: HeadData) => {
    const n = d.size;
    cell = clamp(Math.floor(560 / n), 2, 22);
    const labelled = d.kind !== "pooled" && (cell >= LABEL_MIN_CELL || n <= 160);
    if (labelled) cell = Math.max(cell, LABEL_MIN_CELL);
    const toks = tokens();
    const font = `${clamp(cell - 3, 8, 12)}px`;

    const grid = document.createElement("div");
    grid.className = "iw-mgrid";
    const corner = document.createElement("div");
    corner.className = "iw-mcorner";
    const klabels = document.createElement("div");
    klabels.className = "iw-klabels";
    const qlabels = document.createElement("div");
    qlabels.className = "iw-qlabels";
    if (labelled) {
      const mk = (i: number, side: string) => {
        const s = document.createElement("span");
        s.className = "iw-token";
        s.dataset.index = String(i);
        s.dataset.side = side;
        s.textContent = displayToken(String(toks[i]));
        s.style.fontSize = font;
        if (side === "query") s.style.height = s.style.lineHeight = `${cell}px`;
        else s.style.width = s.style.lineHeight = `${cell}px`;
        return s;
      };
      for (let i = 0; i < n; i++) {
        const q = mk(i, "query");
        const k = mk(i, "key");
        qlabels.appendChild(q);
        klabels.appendChild(k);
        qLabels.push(q);
        kLabels.push(k);
      }
    }
    const cells = document.createElement("div");
    cells.className = "iw-cells";
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = n;
    canvas.style.width = canvas.style.height = `${n * cell}px`;
    paint(canvas, n, lut, (i) => d.byte(Math.floor(i / n), i % n));
    rowStripe = document.createElement("div");
    colStripe = document.createElement("div");
    rowStripe.className = colStripe.className = "iw-stripe";
    rowStripe.hidden = colStripe.hidden = true;
    cells.append(canvas, rowStripe, colStripe);
    const pair = pairStart();
    if (pair > 0) {
      // a sentence pair: lines where the second sentence starts, across its rows and columns
      const at = `${Math.round((pair * n) / toks.length) * cell}px`;
      const title = `sentence B starts at #${pair} ${displayToken(String(toks[pair]))}`;
      for (const side of ["row", "col"]) {
        const line = document.createElement("div");
        line.className = `iw-pair-divider iw-pair-${side}`;
        line.title = title;
        if (side === "row") line.style.top = at;
        else line.style.left = at;
        cells.appendChild(line);
      }
    }
    grid.append(corner, klabels, qlabels, cells);
    box.appendChild(grid);
  };

  /** Where the second sentence of a pair starts (-1: one text). */
  const pairStart = () => {
    const p = Number(model.get("pair_start") ?? -1);
    return p > 0 && p < tokens().length ? p : -1;
  };

  /** bertviz-like: queries left, keys right, one line per (query, key) weighted by attention. */
  const buildLines = (box: HTMLElement, d: HeadData) => {
    const n = d.size;
    const toks = tokens();
    const rowH = 20;
    const wrap = document.createElement("div");
    wrap.className = "iw-lines";
    const col = (side: "query" | "key", label: string) => {
      const c = document.createElement("div");
      c.className = `iw-col ${side === "query" ? "iw-q" : "iw-k"}`;
      const head = document.createElement("div");
      head.className = "iw-col-head";
      head.textContent = label;
      c.appendChild(head);
      const list: HTMLElement[] = [];
      for (let i = 0; i < n; i++) {
        const s = document.createElement("span");
        s.className = "iw-token";
        s.dataset.index = String(i);
        s.dataset.side = side;
        s.textContent = displayToken(String(toks[i]));
        c.appendChild(s);
        list.push(s);
      }
      return { c, list };
    };
    const q = col("query", "query");
    const k = col("key", "key");
    qLabels = q.list;
    kLabels = k.list;
    const pair = pairStart();
    if (pair > 0 && pair < n) for (const s of [q.list[pair], k.list[pair]]) s.classList.add("iw-pair-start");
    const canvas = document.createElement("canvas");
    const W = 180;
    const dpr = sizeCanvas(canvas, W, n * rowH);
    wrap.append(q.c, canvas, k.c);
    box.appendChild(wrap);
    const strong = scale ? scale.color(1) : "#440154";
    drawLines = (focus: number) => {
      const ctx = context2d(canvas, dpr);
      if (!ctx) return;
      ctx.clearRect(0, 0, W, n * rowH);
      ctx.strokeStyle = strong;
      ctx.lineCap = "round";
      for (let a = 0; a < n; a++) {
        for (let b = 0; b < n; b++) {
          const w = d.weight(a, b);
          if (w < 0.01) continue;
          const lit = focus < 0 || a === focus || b === focus;
          ctx.globalAlpha = clamp(w, 0, 1) * (lit ? 0.95 : 0.08);
          ctx.lineWidth = 0.5 + 2.5 * w;
          ctx.beginPath();
          ctx.moveTo(2, a * rowH + rowH / 2);
          ctx.lineTo(W - 2, b * rowH + rowH / 2);
          ctx.stroke();
        }
      }
      ctx.globalAlpha = 1;
    };
  };

  // -- focus: what a token attends to and what attends to it ---------------------------

  const setLabel = (s: HTMLElement | undefined, w: number, focus: boolean) => {
    if (!s) return;
    const on = focus || w >= HL_MIN;
    s.classList.toggle("iw-hl", on);
    s.classList.toggle("iw-focus", focus);
    if (on && scale && !focus) {
      const v = Math.sqrt(clamp(w, 0, 1));
      s.style.backgroundColor = scale.color(v);
      s.style.color = scale.text(v);
    } else {
      s.style.backgroundColor = "";
      s.style.color = "";
    }
  };

  /** Highlight token `i` (the model's selected_token) and, for a hovered cell, key `k`. */
  const applyFocus = (cellKey = -1) => {
    if (!head) return;
    const d = head;
    const n = d.size;
    const sel = model.get("selected_token");
    // Token index -> block index (identity unless pooled).
    let i = -1;
    if (typeof sel === "number" && sel >= 0) {
      for (let b = 0; b < n; b++) {
        const [a, z] = d.span(b);
        if (sel >= a && sel <= z) {
          i = b;
          break;
        }
      }
    }
    for (let j = 0; j < qLabels.length; j++) {
      setLabel(kLabels[j], i >= 0 ? d.weight(i, j) : 0, j === i); // what i attends to
      setLabel(qLabels[j], i >= 0 ? d.weight(j, i) : 0, j === i); // what attends to i
    }
    if (cellKey >= 0) kLabels[cellKey]?.classList.add("iw-hl", "iw-focus"); // the hovered cell's key
    if (rowStripe && colStripe) {
      const k = cellKey >= 0 ? cellKey : i;
      rowStripe.hidden = i < 0;
      colStripe.hidden = k < 0;
      Object.assign(rowStripe.style, { left: "0px", top: `${i * cell}px`, width: `${n * cell + 2}px`, height: `${cell + 2}px` });
      Object.assign(colStripe.style, { top: "0px", left: `${k * cell}px`, height: `${n * cell + 2}px`, width: `${cell + 2}px` });
    }
    drawLines?.(i);
    if (readout) {
      readout.textContent = i < 0 ? "" : describe(i, cellKey);
      readout.title = readout.textContent;
    }
  };

  const label = (b: number) => {
    if (!head) return "";
    const [a, z] = head.span(b);
    const toks = tokens();
    return a === z ? `#${a} ${displayToken(String(toks[a]))}` : `#${a}–${z}`;
  };

  const describe = (i: number, k: number): string => {
    if (!head) return "";
    if (k >= 0) return `${label(i)}  →  ${label(k)}   weight ${format4(head.weight(i, k))}${head.kind === "pooled" ? " (block max)" : ""}`;
    // The keys this token attends to most.
    const order = Array.from({ length: head.size }, (_, j) => j)
      .filter((j) => head!.weight(i, j) >= HL_MIN)
      .sort((a, b) => head!.weight(i, b) - head!.weight(i, a))
      .slice(0, 3);
    const tops = order.map((j) => `${label(j)} ${format4(head!.weight(i, j))}`).join(", ");
    return `${label(i)} attends to ${tops || "nothing above " + HL_MIN}`;
  };

  let own = -1; // the last selected_token this view set itself
  const setToken = (i: number) => {
    if (model.get("selected_token") === i) return;
    own = i;
    model.set("selected_token", i);
    model.save_changes();
  };

  // -- events ---------------------------------------------------------------------------

  const select = (div: HTMLElement) => {
    const l = Number(div.dataset.layer);
    const h = Number(div.dataset.head);
    if (l === model.get("selected_layer") && h === model.get("selected_head")) return;
    model.set("selected_layer", l);
    model.set("selected_head", h);
    model.save_changes();
  };
  const onOverviewClick = (ev: Event) => {
    const div = (ev.target as Element | null)?.closest?.(".iw-thumb") as HTMLElement | null;
    if (!div || !overview.contains(div)) return;
    const m = ev as MouseEvent;
    if (ablatable && (m.altKey || m.shiftKey)) toggleHead(host, Number(div.dataset.layer), Number(div.dataset.head));
    else select(div);
  };
  const onOverviewKey = (ev: KeyboardEvent) => {
    const div = (ev.target as Element | null)?.closest?.(".iw-thumb") as HTMLElement | null;
    if (div && ablatable && (ev.key === "x" || ev.key === "X")) {
      ev.preventDefault();
      toggleHead(host, Number(div.dataset.layer), Number(div.dataset.head));
      return;
    }
    if (ev.key !== "Enter" && ev.key !== " ") return;
    if (div) {
      ev.preventDefault();
      select(div);
    }
  };

  /** The block under the mouse on the matrix canvas, or null. */
  const cellAt = (ev: MouseEvent): [number, number] | null => {
    const c = (ev.target as Element | null)?.closest?.(".iw-cells canvas") as HTMLCanvasElement | null;
    if (!c || !head) return null;
    const r = c.getBoundingClientRect();
    // Inside the 1px border: the content box is size x size cells.
    const w = Math.max(1, c.clientWidth || r.width);
    const h = Math.max(1, c.clientHeight || r.height);
    const q = Math.floor(((ev.clientY - r.top - c.clientTop) / h) * head.size);
    const k = Math.floor(((ev.clientX - r.left - c.clientLeft) / w) * head.size);
    if (q < 0 || k < 0 || q >= head.size || k >= head.size) return null;
    return [q, k];
  };

  const onDetailMove = (ev: Event) => {
    if (!head) return;
    const span = tokenFromEvent(ev, detail);
    const qk = span ? null : cellAt(ev as MouseEvent);
    const key = span ? `t${span.dataset.index}` : qk ? `c${qk[0]},${qk[1]}` : "";
    if (!key || key === lastHover) return;
    lastHover = key;
    if (span) {
      if (pinned < 0) setToken(Number(span.dataset.index));
      applyFocus();
      return;
    }
    if (qk) {
      if (pinned < 0) setToken(head.span(qk[0])[0]);
      applyFocus(pinned < 0 ? qk[1] : -1);
    }
  };
  const onDetailLeave = () => {
    lastHover = "";
    setToken(pinned);
    applyFocus();
  };
  const onDetailClick = (ev: Event) => {
    const t = ev.target as Element | null;
    const off = t?.closest?.(".iw-ablate-toggle") as HTMLElement | null;
    if (off) {
      toggleHead(host, Number(off.dataset.layer), Number(off.dataset.head));
      return;
    }
    if (t?.closest?.(".iw-lines-toggle")) {
      model.set("line_view", !model.get("line_view"));
      model.save_changes();
      return;
    }
    if (t?.closest?.(".iw-close")) {
      pinned = -1;
      model.set("selected_layer", -1);
      model.set("selected_head", -1);
      model.set("selected_token", -1);
      model.save_changes();
      return;
    }
    const span = tokenFromEvent(ev, detail);
    const qk = span ? null : cellAt(ev as MouseEvent);
    if (!span && !qk) return;
    const i = span ? Number(span.dataset.index) : head!.span(qk![0])[0];
    lastHover = "";
    pinned = pinned === i ? -1 : i;
    setToken(i);
    applyFocus();
  };

  const onSort = () => {
    const v = sortSel.value;
    model.set("sort_by", v);
    // Ranking by a detector shows that detector's score on the thumbnails.
    if (v) model.set("detector", v);
    model.save_changes();
  };
  const onScore = () => {
    model.set("detector", scoreSel.value);
    model.save_changes();
  };

  shell.listen(overview, "click", onOverviewClick);
  shell.listen(overview, "keydown", onOverviewKey);
  shell.listen(detail, "mouseover", onDetailMove);
  shell.listen(detail, "mousemove", onDetailMove);
  shell.listen(detail, "mouseleave", onDetailLeave);
  shell.listen(detail, "click", onDetailClick);
  shell.listen(sortSel, "change", onSort);
  shell.listen(scoreSel, "change", onScore);

  const redraw = coalesce(draw);
  const regrid = coalesce(() => {
    fillSelects();
    layoutGrid();
  });
  const redetail = coalesce(() => {
    markActive();
    renderDetail();
  });
  const syncAblate = coalesce(syncAblation);
  const onToken = () => {
    // Set from elsewhere (Python, another view): keep it, as if clicked here.
    const i = model.get("selected_token");
    if (i !== own) pinned = typeof i === "number" && i >= 0 ? i : -1;
    applyFocus();
  };
  shell.cleanup(redraw.cancel);
  shell.cleanup(regrid.cancel);
  shell.cleanup(redetail.cancel);
  shell.cleanup(syncAblate.cancel);
  shell.cleanup(() => panel.destroy());
  for (const k of ["tokens", "thumbs", "detectors", "head_scores", "title", "theme"]) shell.on(`change:${k}`, redraw.schedule);
  shell.on("change:sort_by", regrid.schedule);
  shell.on("change:detector", regrid.schedule);
  for (const k of ["selected_layer", "selected_head", "head_pattern", "head_pattern_of", "line_view"]) {
    shell.on(`change:${k}`, redetail.schedule);
  }
  shell.on("change:selected_token", onToken);
  for (const k of ABLATION_TRAITS) shell.on(`change:${k}`, syncAblate.schedule);
  shell.watchTheme(draw);

  draw();
  return shell.dispose;
}

export default { render };
