/**
 * PatchingView: activation-patching effects as a diverging heatmap on a canvas (0 = the
 * corrupted run, 1 = the clean run), with a side panel listing a clicked cell's patched run's
 * top next tokens, which Python computes. Python: interp_widgets/views/patching.py (same
 * trait names).
 *
 * Data: `values` float32, one of
 *   [layers, positions]          rows = layers, columns = positions (clean / corrupted token)
 *   [layers]                     one column (every position patched at once)
 *   [layers, heads]              site "z": columns = heads
 *   [layers, heads, positions]   site "z": columns = heads, at a position picked in a select
 *                                (or summed over positions, for display only)
 * A click sets `selected_cell` = [layer, position, head] (-1 = n/a); Python answers with
 * `top_cell`, `top_tokens` and `top_probs`, and flips `busy` meanwhile.
 *
 * Switching heads off on the clean prompt: a selected head cell's toggle, or the panel's head
 * picker, edits `ablated_heads`; Python re-runs the model and fills the "Next token: before →
 * after" panel (lib/ablation_panel.ts, shared with the AttentionView).
 */
import type { RenderProps } from "@anywidget/types";
import {
  ABLATION_CSS,
  ABLATION_TRAITS,
  ablateToggle,
  createAblationPanel,
  syncToggle,
  toggleHead,
  type AblationHost,
  type AblationTraits,
} from "../lib/ablation_panel";
import { decodeArray, firstNonFinite, type ArrayPayload } from "../lib/codec";
import { renderLegend } from "../lib/legend";
import { makeScale, type ColorScale } from "../lib/scale";
import { coalesce } from "../lib/schedule";
import { createColumnWindow, paintGrid, type GridOutline } from "../lib/canvas";
import { createViewShell } from "../lib/shell";
import { type ThemeOption } from "../lib/theme";
import { displayToken } from "../lib/tokens";
import { createTooltip } from "../lib/tooltip";

export interface PatchingModel extends AblationTraits {
  values: ArrayPayload | null;
  site: string;
  positions: string;
  method: string;
  metric: string;
  clean_metric: number;
  corrupted_metric: number;
  clean_tokens: string[];
  corrupted_tokens: string[];
  title: string;
  selected_cell: number[];
  top_cell: number[];
  top_tokens: string[];
  top_probs: ArrayPayload | null;
  busy: boolean;
  error: string;
  interactive: boolean;
  n_model_heads: number;
  /** What the metric's logits are: "next token" (default), a masked LM's "token at [MASK] #6", "class". */
  readout?: string;
  theme: ThemeOption;
}

/** Height of one layer row, in CSS pixels. */
export const ROW_H = 14;
/** Width of a column: a position (token label), a head, or the single column of [layers]. */
export const POS_W = 44;
export const HEAD_W = 30;
export const LAYER_W = 56;

const CSS = `${ABLATION_CSS}
.iw-patching .iw-ablation { flex: 0 1 330px; }
.iw-patching .iw-patch-cell .iw-ablate-toggle { font: inherit; font-size: 11px; margin: 0 0 6px; color: var(--iw-fg); background: var(--iw-bg);
  border: 1px solid var(--iw-border); border-radius: 4px; padding: 1px 6px; cursor: pointer; }
.iw-patching .iw-ablate-toggle[aria-pressed="true"] { border-color: var(--iw-error-fg); color: var(--iw-error-fg); }
.iw-patching .iw-ablate-toggle:disabled { cursor: not-allowed; opacity: 0.55; }
.iw-patching .iw-patch-body { display: flex; flex-wrap: wrap; gap: 14px 22px; align-items: flex-start; }
.iw-patching .iw-patch-body[hidden], .iw-patch-nan[hidden] { display: none; }
.iw-patch-grid-wrap { display: grid; column-gap: 6px; row-gap: 4px; max-width: 100%; overflow-x: auto; padding-bottom: 2px; }
.iw-patch-cols { display: flex; align-items: flex-end; }
.iw-patching .iw-patch-cols .iw-token { box-sizing: border-box; display: flex; flex-direction: column; align-items: center;
  justify-content: flex-end; margin: 0; padding: 0 1px; border-radius: 0; line-height: 1.25; font-size: 10.5px; overflow: hidden; }
.iw-patching .iw-patch-cols .iw-token:hover { box-shadow: none; background: var(--iw-panel); }
.iw-patch-cols .iw-token span { max-width: 100%; overflow: hidden; text-overflow: ellipsis; white-space: pre; }
.iw-patch-cols .iw-patch-corrupt { color: var(--iw-error-fg); opacity: 0.9; }
.iw-patch-cols .iw-patch-corrupt::before { content: "/ "; color: var(--iw-muted); }
.iw-patch-cols .iw-patch-same { visibility: hidden; }
.iw-patch-cols .iw-sel { background: var(--iw-panel); box-shadow: inset 0 -2px 0 var(--iw-accent); }
.iw-patch-head { font-family: var(--iw-mono); font-size: 10.5px; color: var(--iw-muted); text-align: center; }
.iw-patch-axis { font-size: 11px; color: var(--iw-muted); align-self: end; white-space: nowrap; }
.iw-patch-rows { display: flex; flex-direction: column; position: sticky; left: 0; z-index: 1; background: var(--iw-bg); padding-right: 2px; }
.iw-layer { font-family: var(--iw-mono); font-size: 10px; color: var(--iw-muted); text-align: right; line-height: ${ROW_H}px; height: ${ROW_H}px; }
.iw-layer.iw-sel { color: var(--iw-accent); font-weight: 700; }
.iw-patch-nums { display: flex; flex-direction: column; }
.iw-patch-num { font-family: var(--iw-mono); font-size: 10px; color: var(--iw-muted); line-height: ${ROW_H}px; height: ${ROW_H}px; }
.iw-patch-stage { position: relative; }
canvas.iw-patch-grid { display: block; position: absolute; top: 0; }
.iw-patching[data-interactive="true"] canvas.iw-patch-grid { cursor: pointer; }
.iw-patching[data-busy="true"] canvas.iw-patch-grid { cursor: progress; }
.iw-patch-pos { font: inherit; font-size: 12px; color: var(--iw-fg); background: var(--iw-panel);
  border: 1px solid var(--iw-border); border-radius: 4px; padding: 1px 4px; }
.iw-patch-controls { display: flex; align-items: center; gap: 6px; margin: 0 0 8px; font-size: 12px; color: var(--iw-muted); }
.iw-patch-controls[hidden] { display: none; }
.iw-patch-side { flex: 0 1 250px; min-width: 210px; border: 1px solid var(--iw-border); border-radius: 6px; padding: 8px 10px;
  background: var(--iw-panel); font-size: 12px; }
.iw-patch-side h4 { margin: 0 0 6px; font-size: 12px; font-weight: 600; color: var(--iw-fg); }
.iw-patch-cap { font-family: var(--iw-mono); font-size: 11.5px; margin-bottom: 6px; white-space: pre-wrap; word-break: break-word; }
.iw-patch-cap .iw-patch-val { font-weight: 700; }
.iw-patch-list { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 2px; }
.iw-top-token { display: grid; grid-template-columns: minmax(0, 1fr) 70px 44px; align-items: center; gap: 6px; }
.iw-top-token .iw-tt-text { font-family: var(--iw-mono); white-space: pre; overflow: hidden; text-overflow: ellipsis; }
.iw-top-token .iw-tt-track { height: 8px; border-radius: 2px; background: var(--iw-bg); border: 1px solid var(--iw-border); overflow: hidden; }
.iw-top-token .iw-tt-bar { height: 100%; background: var(--iw-accent); }
.iw-top-token .iw-tt-p { font-family: var(--iw-mono); font-size: 11px; color: var(--iw-muted); text-align: right; }
.iw-patch-busy { display: flex; align-items: center; gap: 6px; color: var(--iw-muted); margin-bottom: 6px; }
.iw-patch-busy[hidden], .iw-patch-note[hidden] { display: none; }
.iw-patch-busy::before { content: ""; width: 10px; height: 10px; border-radius: 50%; border: 2px solid var(--iw-border);
  border-top-color: var(--iw-accent); animation: iw-spin 0.8s linear infinite; }
@keyframes iw-spin { to { transform: rotate(360deg); } }
.iw-patching[data-busy="true"] .iw-patch-cell { opacity: 0.5; }
.iw-patch-note { margin-bottom: 6px; padding: 4px 6px; border-radius: 4px; border-left: 3px solid var(--iw-accent);
  background: var(--iw-bg); color: var(--iw-fg); }
.iw-patch-empty { color: var(--iw-muted); }
.iw-patch-nan { margin: 8px 0; padding: 10px 12px; border-radius: 6px; border: 1px dashed var(--iw-border);
  background: var(--iw-panel); max-width: 640px; }
.iw-patching .iw-hint { margin-top: 8px; }
`;

/** "+0.880" / "-0.500": signed, fixed decimals. */
export function signed(v: number, digits = 2): string {
  if (!Number.isFinite(v)) return String(v);
  const s = Math.abs(v).toFixed(digits);
  return (v < 0 && Number(s) !== 0 ? "-" : "+") + s;
}

/** A token quoted as in Python's repr, with newlines and tabs made visible: `' John'`. */
export function quoted(tok: string): string {
  return `'${String(tok).replace(/\r\n|\r|\n/g, "↵").replace(/\t/g, "→")}'`;
}

/** What the columns are. */
type Mode = "positions" | "layers" | "heads";

interface Grid {
  mode: Mode;
  L: number;
  /** Columns shown: positions, heads, or 1. */
  C: number;
  /** Heads (0 unless the site is per head) and positions of a [layers, heads, positions] array. */
  H: number;
  N: number;
  raw: ArrayLike<number>;
  /** True when every value is NaN: clean and corrupted metrics are equal. */
  undefinedEffect: boolean;
}

/** Decode `values` and work out the layout; throws an Error with a readable message. */
function readGrid(model: { get<K extends keyof PatchingModel>(k: K): PatchingModel[K] }): Grid | null {
  const arr = decodeArray(model.get("values"));
  if (!arr) return null;
  const shape = arr.shape;
  const n = (model.get("clean_tokens") ?? []).length;
  const heads = model.get("site") === "z";
  let g: Grid;
  if (shape.length === 1) g = { mode: "layers", L: shape[0], C: 1, H: 0, N: 0, raw: arr.data, undefinedEffect: false };
  else if (shape.length === 2 && heads) g = { mode: "heads", L: shape[0], C: shape[1], H: shape[1], N: 0, raw: arr.data, undefinedEffect: false };
  else if (shape.length === 2) g = { mode: "positions", L: shape[0], C: shape[1], H: 0, N: shape[1], raw: arr.data, undefinedEffect: false };
  else if (shape.length === 3 && heads) g = { mode: "heads", L: shape[0], C: shape[1], H: shape[1], N: shape[2], raw: arr.data, undefinedEffect: false };
  else throw new Error(`values must be [layers], [layers, positions], [layers, heads] or [layers, heads, positions], got shape [${shape.join(", ")}]`);
  if (g.L === 0 || g.C === 0) throw new Error(`values are empty (shape [${shape.join(", ")}])`);
  if (g.N && g.N !== n) throw new Error(`values have ${g.N} positions but there are ${n} tokens`);
  const bad = firstNonFinite(arr.data);
  if (bad && bad.count === arr.data.length && arr.data.every((v) => Number.isNaN(v))) g.undefinedEffect = true;
  else if (bad) throw new Error(`values have ${bad.count} non-finite value(s) (NaN/inf)`);
  return g;
}

function span(cls: string, text: string): HTMLSpanElement {
  const s = document.createElement("span");
  if (cls) s.className = cls;
  s.textContent = text;
  return s;
}

function render({ model, el }: Pick<RenderProps<PatchingModel>, "model" | "el">): () => void {
  // The header is rebuilt by each draw (title, summary, legend): the shell's title and summary
  // are replaced there.
  const shell = createViewShell(el, model, "iw-patching", CSS, { progress: false });
  const { root, header, dataError } = shell;
  const nanBox = document.createElement("div");
  nanBox.className = "iw-patch-nan";
  nanBox.hidden = true;
  const controls = document.createElement("label");
  controls.className = "iw-patch-controls";
  controls.hidden = true;
  const posSelect = document.createElement("select");
  posSelect.className = "iw-patch-pos";
  controls.append("position", posSelect);
  const body = document.createElement("div");
  body.className = "iw-patch-body";
  const gridWrap = document.createElement("div");
  gridWrap.className = "iw-patch-grid-wrap";
  const side = document.createElement("div");
  side.className = "iw-patch-side";
  const hint = document.createElement("div");
  hint.className = "iw-hint";
  const host = model as unknown as AblationHost;
  const panel = createAblationPanel(host, {
    picker: () => ({ layers: Number(model.get("values")?.shape?.[0] ?? 0), heads: Number(model.get("n_model_heads") ?? 0) }),
    caption: "heads switched off on the clean prompt",
  });
  body.append(gridWrap, side, panel.el);
  root.append(nanBox, controls, body, hint);
  const tip = createTooltip(root);

  // The canvas covers the columns in view (plus a margin) of a stage as wide as the grid:
  // one canvas per grid would pass the browser's 32,767 px limit past ~745 positions.
  const stage = document.createElement("div");
  stage.className = "iw-patch-stage";
  const canvas = document.createElement("canvas");
  canvas.className = "iw-patch-grid";
  canvas.setAttribute("role", "img");
  stage.appendChild(canvas);
  const colWindow = createColumnWindow(canvas, gridWrap, () => stage.offsetLeft);

  let grid: Grid | null = null;
  /** The shown matrix [layers, columns] (a position's slice, or the sum, for 3-D values). */
  let shown = new Float32Array(0);
  let scale: ColorScale | null = null;
  let colors = { bg: "#ffffff", fg: "#1f2328", accent: "#0969da" };
  let hover: [number, number] | null = null;
  let rowLabels: HTMLElement[] = [];
  let colLabels: HTMLElement[] = [];
  /** For [layers, heads, positions]: the position shown (-1 = summed over positions). */
  let headPos = -1;
  /** A click in a static page: show why nothing happens. */
  let staticNote = false;

  const cellW = () => (grid?.mode === "positions" ? POS_W : grid?.mode === "heads" ? HEAD_W : LAYER_W);
  const tokens = () => model.get("clean_tokens") ?? [];
  const corrupted = () => model.get("corrupted_tokens") ?? [];

  /** The value of one cell of the raw array ([layer, position, head], -1 = n/a), or NaN. */
  const rawValue = (l: number, p: number, h: number): number => {
    const g = grid;
    if (!g) return NaN;
    if (g.mode === "layers") return g.raw[l];
    if (g.mode === "positions") return g.raw[l * g.N + p];
    if (!g.N) return g.raw[l * g.H + h];
    return p >= 0 ? g.raw[(l * g.H + h) * g.N + p] : NaN;
  };

  /** The selected_cell a click on shown cell (l, c) stands for. */
  const cellOf = (l: number, c: number): number[] => {
    const g = grid!;
    if (g.mode === "layers") return [l, -1, -1];
    if (g.mode === "positions") return [l, c, -1];
    return [l, g.N ? headPos : -1, c];
  };

  /** The shown column of a [layer, position, head] cell under the current view, or -1. */
  const columnOf = (cell: number[]): number => {
    const g = grid;
    if (!g || cell.length < 3 || cell[0] < 0) return -1;
    if (g.mode === "layers") return 0;
    if (g.mode === "positions") return cell[1];
    return g.N && cell[1] !== headPos ? -1 : cell[2];
  };

  /** "L4 · ' John'" / "L4H3 · ' John'" / "L4H3 · Σ positions" (`sum`) / "L4 · all positions". */
  const cellName = (cell: number[], sum = false): string => {
    const [l, p, h] = cell;
    const g = grid;
    const where = p >= 0 ? quoted(String(tokens()[p] ?? "")) : sum ? "Σ positions" : "all positions";
    const head = h >= 0 ? `H${h}` : "";
    if (g?.mode === "heads" && !g.N) return `L${l}${head}`;
    return `L${l}${head} · ${where}`;
  };

  const paint = () => {
    const g = grid;
    if (!g || !scale || g.undefinedEffect) return;
    const W = cellW();
    const win = colWindow.begin(g.C, W, g.L * ROW_H);
    if (!win) return;
    const { ctx, from: c0, to: c1 } = win;
    const s = scale;
    const outlines: GridOutline[] = [];
    if (hover) outlines.push({ row: hover[0], col: hover[1], color: colors.fg, width: 1 });
    const sel = model.get("selected_cell") ?? [];
    const c = columnOf(sel);
    if (c >= 0) outlines.push({ row: sel[0], col: c, color: colors.accent, width: 2 });
    paintGrid(ctx, { rows: g.L, cols: g.C, cellW: W, cellH: ROW_H, background: colors.bg,
      color: (l, col) => s.color(shown[l * g.C + col]), outlines, from: c0, to: c1 });
  };

  /** Highlight the selected row and column labels, and repaint the outline. */
  const markSelected = () => {
    const sel = model.get("selected_cell") ?? [];
    const c = columnOf(sel);
    rowLabels.forEach((lab, l) => lab.classList.toggle("iw-sel", l === sel[0]));
    colLabels.forEach((lab, i) => lab.classList.toggle("iw-sel", i === c && sel[0] >= 0));
    paint();
  };

  /** What a cell's run lists: "top next tokens", "top tokens at [MASK] #6", "top classes". */
  const topWhat = () => {
    const r = String(model.get("readout") ?? "next token") || "next token";
    if (r === "next token") return "top next tokens";
    if (r === "class") return "top classes";
    return `top ${r.replace(/^token/, "tokens")}`;
  };

  /** The side panel: the clicked cell's patched run's top next tokens (or why there are none). */
  const drawSide = () => {
    side.replaceChildren();
    const h4 = document.createElement("h4");
    h4.textContent = `Patched run: ${topWhat()}`;
    const busy = document.createElement("div");
    busy.className = "iw-patch-busy";
    busy.textContent = "running the patched model…";
    busy.hidden = !model.get("busy");
    const note = document.createElement("div");
    note.className = "iw-patch-note";
    note.textContent = "Python is needed to run a cell's patched model: this view is static. Hover still shows each cell's value.";
    note.hidden = !staticNote;
    side.append(h4, busy, note);

    const cell = model.get("top_cell") ?? [-1, -1, -1];
    const texts = model.get("top_tokens") ?? [];
    let probs: ArrayLike<number> = [];
    try {
      probs = decodeArray(model.get("top_probs"))?.data ?? [];
    } catch (e) {
      dataError.set(`Cannot show the top tokens: ${(e as Error).message}.`);
    }
    if (cell[0] < 0 || !texts.length) {
      const empty = document.createElement("div");
      empty.className = "iw-patch-empty";
      empty.textContent = model.get("interactive")
        ? `Click a cell to run the corrupted prompt with that patch and list its ${topWhat().replace(/^top /, "most likely ")}.`
        : "No cell was run: hover a cell for its value.";
      side.appendChild(empty);
      return;
    }
    const [l, p, h] = cell;
    const box = document.createElement("div");
    box.className = "iw-patch-cell";
    box.dataset.layer = String(l);
    box.dataset.position = String(p);
    box.dataset.head = String(h);
    const cap = document.createElement("div");
    cap.className = "iw-patch-cap";
    const v = rawValue(l, p, h);
    cap.append(`${cellName(cell)} patched`);
    if (Number.isFinite(v)) cap.append(" → ", span("iw-patch-val", signed(v)));
    else if (p < 0) cap.append(" (every position at once)");
    box.appendChild(cap);
    if (h >= 0) box.appendChild(ablateToggle(host, l, h));
    const list = document.createElement("ol");
    list.className = "iw-patch-list";
    let pmax = 0;
    for (let i = 0; i < probs.length; i++) pmax = Math.max(pmax, probs[i]);
    texts.forEach((t, i) => {
      const pr = Number(probs[i] ?? NaN);
      const li = document.createElement("li");
      li.className = "iw-top-token";
      li.setAttribute("data-token", String(t));
      li.dataset.prob = String(pr);
      const track = document.createElement("span");
      track.className = "iw-tt-track";
      const bar = document.createElement("span");
      bar.className = "iw-tt-bar";
      bar.style.display = "block";
      bar.style.width = `${pmax > 0 && Number.isFinite(pr) ? (pr / pmax) * 100 : 0}%`;
      track.appendChild(bar);
      li.append(span("iw-tt-text", displayToken(String(t))), track, span("iw-tt-p", Number.isFinite(pr) ? `${(pr * 100).toFixed(1)}%` : "?"));
      list.appendChild(li);
    });
    box.appendChild(list);
    side.appendChild(box);
  };

  const syncBusy = () => {
    const busy = shell.syncBusy();
    posSelect.disabled = busy;
    const b = side.querySelector<HTMLElement>(".iw-patch-busy");
    if (b) b.hidden = !busy;
  };

  /** Fill `shown` [layers, columns] from the raw values (a slice or the display sum). */
  const fillShown = () => {
    const g = grid!;
    shown = new Float32Array(g.L * g.C);
    for (let l = 0; l < g.L; l++) {
      for (let c = 0; c < g.C; c++) {
        let v: number;
        if (g.mode === "heads" && g.N && headPos < 0) {
          v = 0;
          for (let p = 0; p < g.N; p++) v += g.raw[(l * g.H + c) * g.N + p];
        } else v = rawValue(l, ...(cellOf(l, c).slice(1) as [number, number]));
        shown[l * g.C + c] = v;
      }
    }
  };

  const draw = () => {
    const resolved = shell.theme();
    root.dataset.iwDark = String(resolved.dark);
    root.dataset.interactive = String(!!model.get("interactive"));
    const cs = typeof getComputedStyle === "function" ? getComputedStyle(root) : null;
    const accent = cs?.getPropertyValue("--iw-accent").trim();
    colors = {
      bg: resolved.background,
      fg: resolved.foreground,
      accent: accent && !accent.includes("var(") ? accent : resolved.dark ? "#4493f8" : "#0969da",
    };
    header.replaceChildren();
    gridWrap.replaceChildren();
    rowLabels = [];
    colLabels = [];
    hover = null;
    tip.hide();
    nanBox.hidden = true;
    controls.hidden = true;

    try {
      grid = readGrid(model);
      dataError.set(grid ? "" : "Nothing to show: no patching values were sent.");
    } catch (e) {
      grid = null;
      dataError.set(`Cannot show this patching result: ${(e as Error).message}.`);
    }

    // Header: title, what was patched and measured, the two reference runs.
    const title = model.get("title") ?? "";
    if (title) header.appendChild(span("iw-title", title));
    const summary = document.createElement("div");
    summary.className = "iw-summary";
    const item = (k: string, v: string, cls: string) => {
      const d = document.createElement("span");
      d.className = cls;
      d.append(span("iw-k", k), span("iw-v", v));
      summary.appendChild(d);
    };
    const positions = model.get("positions") === "all" ? "all positions at once" : "each position";
    item("site", `${model.get("site") ?? ""} (${positions})`, "iw-patch-site");
    item("method", model.get("method") ?? "", "iw-patch-method");
    item("metric", model.get("metric") ?? "", "iw-patch-metric");
    item("clean", signed(model.get("clean_metric") ?? NaN, 3), "iw-patch-clean");
    item("corrupted", signed(model.get("corrupted_metric") ?? NaN, 3), "iw-patch-corrupted");
    header.appendChild(summary);

    drawSide();
    syncBusy();
    const g = grid;
    if (!g) {
      body.hidden = true;
      hint.hidden = true;
      return;
    }
    if (g.undefinedEffect) {
      // 0/0: the normalisation (patched - corrupted) / (clean - corrupted) is undefined.
      nanBox.hidden = false;
      nanBox.textContent =
        `The clean and corrupted runs give the same metric (${signed(model.get("clean_metric") ?? NaN, 3)} and ` +
        `${signed(model.get("corrupted_metric") ?? NaN, 3)}), so a patch's effect, measured from corrupted (0) to ` +
        "clean (1), is undefined. Pick prompts that differ on the metric, or another metric.";
      body.hidden = true;
      hint.hidden = true;
      return;
    }
    body.hidden = false;
    hint.hidden = false;

    // A position picker for [layers, heads, positions] (kept across redraws).
    if (g.mode === "heads" && g.N) {
      controls.hidden = false;
      if (headPos >= g.N) headPos = -1;
      posSelect.replaceChildren();
      const opt = (value: number, text: string) => {
        const o = document.createElement("option");
        o.value = String(value);
        o.textContent = text;
        posSelect.appendChild(o);
      };
      opt(-1, "Σ sum over positions");
      tokens().forEach((t, i) => opt(i, `#${i} ${quoted(String(t))}` + (corrupted()[i] !== t ? ` / ${quoted(String(corrupted()[i] ?? ""))}` : "")));
      posSelect.value = String(headPos);
    }
    fillShown();

    // Symmetric around 0, and at least [-1, 1] so that "fully restores the clean run" is full colour.
    let m = 1;
    for (let i = 0; i < shown.length; i++) if (Math.abs(shown[i]) > m) m = Math.abs(shown[i]);
    scale = makeScale({ kind: "diverging", domain: [-m, m], background: resolved.background, foreground: resolved.foreground, dark: resolved.dark });
    header.appendChild(renderLegend(scale, "0 = corrupted · 1 = clean"));

    // Grid: [axis label | column labels] over [layer labels | canvas (| values)].
    const W = cellW();
    const numbers = g.mode === "layers";
    gridWrap.style.gridTemplateColumns = `max-content ${g.C * W}px${numbers ? " max-content" : ""}`;
    gridWrap.appendChild(span("iw-patch-axis", "layer"));
    const cols = document.createElement("div");
    cols.className = "iw-patch-cols";
    if (g.mode === "positions") {
      tokens().forEach((t, i) => {
        const c = corrupted()[i] ?? "";
        const lab = document.createElement("div");
        lab.className = "iw-token";
        lab.dataset.index = String(i);
        lab.style.width = `${W}px`;
        lab.setAttribute("title", `#${i} clean ${quoted(String(t))}` + (c !== t ? ` / corrupted ${quoted(String(c))}` : ""));
        lab.append(span("iw-patch-clean-tok", displayToken(String(t))), span(c !== t ? "iw-patch-corrupt" : "iw-patch-corrupt iw-patch-same", displayToken(String(c))));
        cols.appendChild(lab);
        colLabels.push(lab);
      });
    } else if (g.mode === "heads") {
      for (let h = 0; h < g.C; h++) {
        const lab = span("iw-patch-head", `H${h}`);
        lab.dataset.head = String(h);
        lab.style.width = `${W}px`;
        cols.appendChild(lab);
        colLabels.push(lab);
      }
    } else {
      const lab = span("iw-patch-head", "all pos.");
      lab.style.width = `${W}px`;
      cols.appendChild(lab);
      colLabels.push(lab);
    }
    gridWrap.appendChild(cols);
    if (numbers) gridWrap.appendChild(span("", ""));

    const rows = document.createElement("div");
    rows.className = "iw-patch-rows";
    for (let l = 0; l < g.L; l++) {
      const lab = span("iw-layer", `L${l}`);
      lab.dataset.layer = String(l);
      rows.appendChild(lab);
      rowLabels.push(lab);
    }
    gridWrap.appendChild(rows);

    stage.style.width = `${g.C * W}px`;
    stage.style.height = `${g.L * ROW_H}px`;
    canvas.dataset.cellWidth = String(W);
    canvas.dataset.cellHeight = String(ROW_H);
    canvas.setAttribute("aria-label", `patching effects of ${g.L} layers x ${g.C} ${g.mode === "positions" ? "positions" : g.mode === "heads" ? "heads" : "column"}`);
    gridWrap.appendChild(stage);
    if (numbers) {
      const nums = document.createElement("div");
      nums.className = "iw-patch-nums";
      for (let l = 0; l < g.L; l++) nums.appendChild(span("iw-patch-num", signed(shown[l])));
      gridWrap.appendChild(nums);
    }
    hint.textContent = model.get("interactive")
      ? `Hover a cell for its value; click it to run that patch and see the ${topWhat()}.`
      : "Hover a cell for its value.";
    markSelected();
  };

  // -- interaction: hover tooltip and click on the canvas --------------------------------

  /** The [layer, column] under the mouse (offsetX/offsetY in CSS pixels), or null. */
  const cellAt = (ev: MouseEvent): [number, number] | null => {
    const g = grid;
    if (!g || g.undefinedEffect) return null;
    let x = ev.offsetX;
    let y = ev.offsetY;
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      const r = canvas.getBoundingClientRect();
      x = ev.clientX - r.left;
      y = ev.clientY - r.top;
    }
    const c = Math.floor((x + colWindow.left()) / cellW());
    const l = Math.floor(y / ROW_H);
    return l >= 0 && l < g.L && c >= 0 && c < g.C ? [l, c] : null;
  };

  const onMove = (ev: MouseEvent) => {
    const cell = cellAt(ev);
    if (!cell || !grid) {
      if (hover) {
        hover = null;
        paint();
      }
      tip.hide();
      return;
    }
    const [l, c] = cell;
    if (!hover || hover[0] !== l || hover[1] !== c) {
      hover = cell;
      paint();
    }
    const full = cellOf(l, c);
    const sum = grid.mode === "heads" && grid.N > 0 && headPos < 0;
    const lines = [`${cellName(full, sum)} : ${signed(shown[l * grid.C + c])}`];
    const p = full[1];
    if (p >= 0 && corrupted()[p] !== tokens()[p]) lines.push(`corrupted ${quoted(String(corrupted()[p] ?? ""))}`);
    const nodes = lines.map((t, i) => {
      const div = document.createElement("div");
      if (i === 0) div.className = "iw-tip-token";
      div.textContent = t;
      return div;
    });
    // Place under the cell, in the root's coordinates.
    const rr = root.getBoundingClientRect();
    const r = canvas.getBoundingClientRect();
    const W = cellW();
    tip.show(nodes, { left: r.left - rr.left + c * W - colWindow.left(), bottom: r.top - rr.top + (l + 1) * ROW_H });
  };
  const onLeave = () => {
    hover = null;
    paint();
    tip.hide();
  };
  const onSideClick = (ev: Event) => {
    const b = (ev.target as Element | null)?.closest?.(".iw-ablate-toggle") as HTMLElement | null;
    if (b) toggleHead(host, Number(b.dataset.layer), Number(b.dataset.head));
  };
  const syncAblation = () => {
    side.querySelectorAll<HTMLButtonElement>(".iw-ablate-toggle").forEach((b) => syncToggle(host, b));
    panel.update();
  };
  const onClick = (ev: MouseEvent) => {
    const cell = cellAt(ev);
    if (!cell) return;
    if (!model.get("interactive")) {
      staticNote = true;
      drawSide();
      return;
    }
    if (model.get("busy")) return;
    model.set("selected_cell", cellOf(cell[0], cell[1]));
    model.save_changes();
  };
  const onPos = () => {
    headPos = Number(posSelect.value);
    if (!Number.isFinite(headPos)) headPos = -1;
    draw();
  };
  const onScroll = () => {
    // the pointer is over another cell now: the tooltip and outline would describe the old one
    const hovered = hover !== null;
    hover = null;
    tip.hide();
    if (grid && (hovered || colWindow.stale(grid.C, cellW()))) paint();
  };
  shell.listen(gridWrap, "scroll", onScroll);
  shell.listen(canvas, "mousemove", onMove);
  shell.listen(canvas, "mouseleave", onLeave);
  shell.listen(canvas, "click", onClick);
  shell.listen(posSelect, "change", onPos);
  shell.listen(side, "click", onSideClick);
  const onTop = () => {
    staticNote = false;
    drawSide();
    syncBusy();
  };

  // Several traits often change in one message: redraw once.
  const redraw = coalesce(draw);
  const side_ = coalesce(onTop);
  const syncAblate = coalesce(syncAblation);
  const DATA_TRAITS = ["values", "site", "positions", "method", "metric", "clean_metric", "corrupted_metric",
    "clean_tokens", "corrupted_tokens", "title", "interactive", "theme"] as const;
  shell.cleanup(() => tip.remove());
  shell.cleanup(redraw.cancel);
  shell.cleanup(side_.cancel);
  shell.cleanup(syncAblate.cancel);
  shell.cleanup(() => panel.destroy());
  for (const k of DATA_TRAITS) shell.on(`change:${k}`, redraw.schedule);
  shell.on("change:selected_cell", markSelected);
  shell.on("change:top_cell", side_.schedule);
  shell.on("change:top_tokens", side_.schedule);
  shell.on("change:top_probs", side_.schedule);
  shell.on("change:busy", syncBusy);
  for (const k of ABLATION_TRAITS) shell.on(`change:${k}`, syncAblate.schedule);
  shell.on("change:n_model_heads", syncAblate.schedule);
  shell.watchTheme(draw);

  draw();
  return shell.dispose;
}

export default { render };
