/**
 * LogitLensView: a layers x positions grid of next-token predictions read from the
 * residual stream after every layer. Cells are painted on one canvas (fast at 31 rows x
 * hundreds of positions); layer and token labels, tooltip and controls are DOM.
 *
 * "top" mode: each cell shows its top-1 token, coloured by its probability.
 * "track" mode: each cell shows a tracked token's rank (#1 = top), coloured by its
 * probability. Typing a token (or double-clicking a cell) sets `track_request`; Python
 * computes the tracked rank/probability and sends them back (no maths here).
 * Python: interp_widgets/views/logit_lens.py (same trait names).
 */
import type { RenderProps } from "@anywidget/types";
import { decodeArray, firstNonFinite, type ArrayPayload } from "../lib/codec";
import { renderLegend } from "../lib/legend";
import { makeScale, type ColorScale } from "../lib/scale";
import { coalesce } from "../lib/schedule";
import { createColumnWindow } from "../lib/canvas";
import { createViewShell } from "../lib/shell";
import { type ThemeOption } from "../lib/theme";
import { displayToken } from "../lib/tokens";
import { createTooltip } from "../lib/tooltip";

export interface LogitLensModel {
  tokens: string[];
  layers: string[];
  top_ids: ArrayPayload | null;
  top_probs: ArrayPayload | null;
  vocab: Record<string, string>;
  tracked_labels: string[];
  tracked_ids: number[];
  tracked_rank: ArrayPayload | null;
  tracked_prob: ArrayPayload | null;
  mode: "top" | "track";
  track_index: number;
  track_request: string;
  selected_token: number;
  model_name: string;
  /** "same": a masked LM's cells predict the token at their own position. Optional for older states. */
  predicts?: "next" | "same";
  busy: boolean;
  error: string;
  interactive: boolean;
  theme: ThemeOption;
}

/** Cell size in CSS pixels. */
export const CELL_W = 64;
export const CELL_H = 20;

const DATA_TRAITS = [
  "tokens",
  "layers",
  "top_ids",
  "top_probs",
  "vocab",
  "tracked_labels",
  "tracked_ids",
  "tracked_rank",
  "tracked_prob",
  "mode",
  "track_index",
  "model_name",
  "predicts",
  "interactive",
  "theme",
] as const;

const CSS = `
.iw-lens .iw-modes { display: inline-flex; border: 1px solid var(--iw-border); border-radius: 4px; overflow: hidden; }
.iw-lens .iw-modes button, .iw-lens .iw-track-go { font: inherit; font-size: 12px; border: 0; background: var(--iw-panel);
  color: var(--iw-fg); padding: 2px 9px; cursor: pointer; }
.iw-lens .iw-modes button + button { border-left: 1px solid var(--iw-border); }
.iw-lens .iw-modes button[aria-pressed="true"] { background: var(--iw-accent); color: #ffffff; }
.iw-lens button:disabled { color: var(--iw-muted); cursor: default; }
.iw-lens .iw-track-form { display: inline-flex; gap: 4px; align-items: center; }
.iw-lens input.iw-track { font-family: var(--iw-mono); font-size: 12px; width: 10em; color: var(--iw-fg);
  background: var(--iw-bg); border: 1px solid var(--iw-border); border-radius: 4px; padding: 2px 6px; }
.iw-lens input.iw-track:disabled { color: var(--iw-muted); }
.iw-lens .iw-track-go { border: 1px solid var(--iw-border); border-radius: 4px; }
.iw-lens .iw-track-select { font: inherit; font-size: 12px; font-family: var(--iw-mono); color: var(--iw-fg);
  background: var(--iw-panel); border: 1px solid var(--iw-border); border-radius: 4px; padding: 1px 4px; }
.iw-lens .iw-busy { font-size: 11px; color: var(--iw-muted); }
.iw-lens .iw-busy[hidden], .iw-lens .iw-track-select[hidden] { display: none; }
.iw-lens .iw-lens-body { display: grid; grid-template-columns: max-content minmax(0, 1fr); column-gap: 6px; }
.iw-lens .iw-layers { display: flex; flex-direction: column; font-family: var(--iw-mono); font-size: 11px;
  color: var(--iw-muted); text-align: right; }
.iw-lens .iw-layer { height: ${CELL_H}px; line-height: ${CELL_H}px; white-space: nowrap; padding-right: 2px; }
.iw-lens .iw-layer.iw-final { color: var(--iw-fg); font-weight: 600; }
.iw-lens .iw-layer-caption { height: 22px; line-height: 22px; font-family: var(--iw-ui); font-style: italic; }
.iw-lens .iw-lens-scroll { overflow-x: auto; overflow-y: hidden; padding-bottom: 4px; }
.iw-lens .iw-stage { position: relative; cursor: crosshair; }
.iw-lens .iw-stage canvas { display: block; position: absolute; top: 0; }
.iw-lens[data-busy="true"] .iw-stage { opacity: 0.6; cursor: progress; }
.iw-lens .iw-cell-hover, .iw-lens .iw-col-sel { position: absolute; pointer-events: none; border-radius: 2px; }
.iw-lens .iw-cell-hover { box-shadow: 0 0 0 2px var(--iw-fg); }
.iw-lens .iw-col-sel { top: 0; box-shadow: inset 0 0 0 2px var(--iw-accent), 0 0 0 1px var(--iw-accent); }
.iw-lens .iw-cell-hover[hidden], .iw-lens .iw-col-sel[hidden] { display: none; }
.iw-lens .iw-cols { display: flex; }
.iw-lens .iw-cols .iw-token { flex: 0 0 auto; box-sizing: border-box; width: ${CELL_W}px; margin: 2px 0 0; padding: 0 3px;
  overflow: hidden; text-overflow: ellipsis; white-space: pre; overflow-wrap: normal; font-size: 11px; line-height: 18px;
  cursor: pointer; border-radius: 3px; }
.iw-lens .iw-tip-head { margin-bottom: 3px; }
.iw-lens .iw-tip-topk { display: grid; grid-template-columns: auto auto auto; gap: 0 10px; }
.iw-lens .iw-tip-topk .iw-tip-rank, .iw-lens .iw-tip-topk .iw-tip-p { text-align: right; font-family: var(--iw-mono); opacity: 0.8; }
.iw-lens .iw-tip-topk .iw-tip-hit { font-weight: 700; opacity: 1; }
.iw-lens .iw-tip-foot { margin-top: 4px; }
`;

/** A token as shown everywhere (lib/tokens: `·`, `↵`, `⍽`, `‹U+200B›`). */
export function showToken(tok: string): string {
  return displayToken(tok); // invisible characters are marked there (lib/tokens.ts)
}

/** A token's display text cut to `maxChars` characters (with an ellipsis). */
export function cellLabel(tok: string, maxChars: number): string {
  const s = showToken(tok);
  const chars = Array.from(s); // code points, so that no surrogate pair is split
  return chars.length <= maxChars ? s : chars.slice(0, Math.max(1, maxChars - 1)).join("") + "…";
}

/** A 0-based rank as shown in cells: 1-based with `#` (#1 = top), compact above 99,999. */
export function rankLabel(rank: number): string {
  const r = rank + 1;
  return r >= 1e5 ? `#${Math.round(r / 1000)}k` : `#${r}`;
}

/** Probabilities as people read them: 42.1%, 0.3%, 2.1e-5. */
export function formatProb(p: number): string {
  if (!Number.isFinite(p)) return String(p);
  if (p >= 0.001) return `${(p * 100).toFixed(1)}%`;
  return p === 0 ? "0" : p.toExponential(1);
}

interface LensData {
  rows: number;
  cols: number;
  k: number;
  ids: ArrayLike<number>;
  probs: ArrayLike<number>;
  /** Tracked token shown in track mode (rank and prob rows of `[rows, cols]`), or null. */
  track: { label: string; id: number; rank: ArrayLike<number>; prob: ArrayLike<number>; offset: number } | null;
}

function render({ model, el }: Pick<RenderProps<LogitLensModel>, "model" | "el">): () => void {
  const shell = createViewShell(el, model, "iw-lens", CSS, { progress: false });
  const { root, title, dataError } = shell;

  // Header: title, mode switch, tracking input, legend.
  const modes = document.createElement("div");
  modes.className = "iw-modes";
  modes.setAttribute("role", "group");
  modes.setAttribute("aria-label", "colour cells by");
  const topBtn = document.createElement("button");
  topBtn.type = "button";
  topBtn.dataset.mode = "top";
  topBtn.textContent = "top-1";
  topBtn.title = "each cell: its most likely next token, coloured by its probability";
  const trackBtn = document.createElement("button");
  trackBtn.type = "button";
  trackBtn.dataset.mode = "track";
  trackBtn.textContent = "tracked";
  trackBtn.title = "each cell: the tracked token's rank (#1 = top), coloured by its probability";
  modes.append(topBtn, trackBtn);
  const trackSelect = document.createElement("select");
  trackSelect.className = "iw-track-select";
  trackSelect.setAttribute("aria-label", "tracked token");
  const form = document.createElement("form");
  form.className = "iw-track-form";
  const input = document.createElement("input");
  input.className = "iw-track";
  input.type = "text";
  input.spellcheck = false;
  input.setAttribute("aria-label", "token to track");
  const go = document.createElement("button");
  go.type = "submit";
  go.className = "iw-track-go";
  go.textContent = "track";
  form.append(input, go);
  const busyEl = document.createElement("span");
  busyEl.className = "iw-busy";
  busyEl.setAttribute("role", "status");
  busyEl.hidden = true;
  const legendSlot = document.createElement("div");
  shell.header.replaceChildren(title, modes, trackSelect, form, busyEl, legendSlot);

  // Body: layer labels | scrolling [canvas stage; token labels].
  const body = document.createElement("div");
  body.className = "iw-lens-body";
  const layersEl = document.createElement("div");
  layersEl.className = "iw-layers";
  const scroll = document.createElement("div");
  scroll.className = "iw-lens-scroll";
  const stage = document.createElement("div");
  stage.className = "iw-stage";
  const canvas = document.createElement("canvas");
  const hoverBox = document.createElement("div");
  hoverBox.className = "iw-cell-hover";
  hoverBox.hidden = true;
  const selBox = document.createElement("div");
  selBox.className = "iw-col-sel";
  selBox.hidden = true;
  stage.append(canvas, selBox, hoverBox);
  const colsEl = document.createElement("div");
  colsEl.className = "iw-cols";
  scroll.append(stage, colsEl);
  body.append(layersEl, scroll);
  const hint = document.createElement("div");
  hint.className = "iw-hint";
  root.append(body, hint);
  const tooltip = createTooltip(root);

  let data: LensData | null = null;
  let scale: ColorScale | null = null;
  let colSpans: HTMLSpanElement[] = [];

  /** Read and check the arrays; null (with the reason shown) when they cannot be drawn. */
  const readData = (): LensData | null => {
    const tokens = model.get("tokens") ?? [];
    const layers = model.get("layers") ?? [];
    const problems: string[] = [];
    let out: LensData | null = null;
    try {
      const ids = decodeArray(model.get("top_ids"));
      const probs = decodeArray(model.get("top_probs"));
      if (!ids || !probs) throw new Error("no top_ids/top_probs");
      const [rows, cols, k] = probs.shape;
      if (probs.shape.length !== 3 || ids.shape.join() !== probs.shape.join()) {
        throw new Error(`top_ids [${ids.shape}] and top_probs [${probs.shape}] must both be [rows, positions, k]`);
      }
      if (cols !== tokens.length) throw new Error(`${tokens.length} tokens but ${cols} positions`);
      if (rows !== layers.length) throw new Error(`${layers.length} layer labels but ${rows} rows`);
      const bad = firstNonFinite(probs.data);
      if (bad) throw new Error(`${bad.count} non-finite probabilities (NaN/inf)`);
      out = { rows, cols, k, ids: ids.data, probs: probs.data, track: null };
      const labels = model.get("tracked_labels") ?? [];
      const t = Number(model.get("track_index") ?? -1);
      if (labels.length > 0 && t >= 0 && t < labels.length) {
        const rank = decodeArray(model.get("tracked_rank"));
        const prob = decodeArray(model.get("tracked_prob"));
        if (!rank || !prob || prob.shape.join() !== [labels.length, rows, cols].join() || rank.shape.join() !== prob.shape.join()) {
          throw new Error(`tracked arrays must be [${labels.length}, ${rows}, ${cols}]`);
        }
        const id = (model.get("tracked_ids") ?? [])[t] ?? -1;
        out.track = { label: labels[t], id, rank: rank.data, prob: prob.data, offset: t * rows * cols };
      }
    } catch (e) {
      problems.push((e as Error).message);
      out = null;
    }
    if (tokens.length === 0) problems.push("no tokens to show");
    dataError.set(problems.length ? `Cannot draw this logit lens: ${problems.join("; ")}.` : "");
    return out;
  };

  /** Probability and text of a cell at data row `r`, position `c`, in the current mode. */
  const cellAt = (d: LensData, r: number, c: number, tracked: boolean, vocab: Record<string, string>): { p: number; text: string; maxed: boolean } => {
    if (tracked && d.track) {
      const i = d.track.offset + r * d.cols + c;
      return { p: d.track.prob[i], text: rankLabel(d.track.rank[i]), maxed: false };
    }
    const i = (r * d.cols + c) * d.k;
    return { p: d.probs[i], text: vocab[String(d.ids[i])] ?? `#${d.ids[i]}`, maxed: true };
  };

  // Long texts: the canvas covers only the columns in view (plus a margin) and moves as the
  // grid scrolls; one canvas as wide as 2,500 tokens (160,000 px) would pass the browser's
  // canvas limit (32,767 px) and take 400 MB.
  const colWindow = createColumnWindow(canvas, scroll);

  /** Paint the cells in view: background by probability, text (truncated to fit) on top. */
  const paint = () => {
    const d = data;
    if (!d || !scale) return;
    const W = d.cols * CELL_W;
    const H = d.rows * CELL_H;
    stage.style.width = `${W}px`;
    stage.style.height = `${H}px`;
    const win = colWindow.begin(d.cols, CELL_W, H);
    if (!win) return;
    const { ctx, from: c0, to: c1 } = win;
    ctx.clearRect(c0 * CELL_W, 0, (c1 - c0) * CELL_W, H);
    let mono = "";
    try {
      mono = getComputedStyle(root).getPropertyValue("--iw-mono").trim();
    } catch {
      /* not in a browser */
    }
    ctx.font = `11px ${mono || "monospace"}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    const tracked = model.get("mode") === "track" && !!d.track;
    const vocab = model.get("vocab") ?? {};
    const room = CELL_W - 6;
    const charW = ctx.measureText("M").width || 6.6;
    const maxChars = Math.max(2, Math.floor(room / charW));
    const fitted = new Map<string, string>(); // cell text -> text that fits (tokens repeat)
    for (let r = 0; r < d.rows; r++) {
      const y = (d.rows - 1 - r) * CELL_H; // final layer on top, embeddings at the bottom
      for (let c = c0; c < c1; c++) {
        const cell = cellAt(d, r, c, tracked, vocab);
        ctx.fillStyle = scale.color(cell.p);
        ctx.fillRect(c * CELL_W, y, CELL_W - 1, CELL_H - 1); // 1px gaps draw the grid
        let text = fitted.get(cell.text);
        if (text === undefined) {
          text = cell.maxed ? cellLabel(cell.text, maxChars) : cell.text;
          // Wide characters (CJK, emoji) can still overflow: trim until the text fits.
          while (text.length > 1 && ctx.measureText(text).width > room) text = Array.from(text).slice(0, -2).join("") + "…";
          fitted.set(cell.text, text);
        }
        ctx.fillStyle = scale.text(cell.p);
        ctx.fillText(text, c * CELL_W + CELL_W / 2, y + CELL_H / 2 + 0.5);
      }
    }
  };

  const draw = () => {
    const resolved = shell.theme();
    const tokens = model.get("tokens") ?? [];
    const layers = model.get("layers") ?? [];
    const labels = model.get("tracked_labels") ?? [];
    const interactive = !!model.get("interactive");
    data = readData();
    const tracked = model.get("mode") === "track" && !!data?.track;
    root.dataset.mode = tracked ? "track" : "top";
    root.dataset.interactive = String(interactive);

    title.replaceChildren();
    title.append("Logit lens");
    const name = model.get("model_name");
    if (name) {
      const m = document.createElement("span");
      m.className = "iw-k";
      m.style.fontWeight = "400";
      m.style.color = "var(--iw-muted)";
      m.textContent = ` · ${name}`;
      title.appendChild(m);
    }

    // Mode switch and tracked-token picker.
    topBtn.setAttribute("aria-pressed", String(!tracked));
    trackBtn.setAttribute("aria-pressed", String(tracked));
    trackBtn.disabled = labels.length === 0;
    trackSelect.replaceChildren();
    labels.forEach((l, i) => {
      const o = document.createElement("option");
      o.value = String(i);
      o.textContent = showToken(l);
      trackSelect.appendChild(o);
    });
    trackSelect.value = String(Math.max(0, Number(model.get("track_index") ?? 0)));
    trackSelect.hidden = labels.length < 2 || !tracked;

    // Tracking input: Python does the work, so a static page disables it.
    input.placeholder = interactive ? 'token, e.g. " Paris"' : "needs Python";
    input.title = interactive
      ? "a single token, exactly as the tokenizer spells it (leading spaces matter); Enter to track"
      : "static view: tokens tracked before export are shown; tracking a new one needs the live widget";

    // Colours: probabilities in [0, 1] on a sequential scale that fades to the background.
    scale = makeScale({ kind: "sequential", domain: [0, 1], background: resolved.background, foreground: resolved.foreground, dark: resolved.dark });
    legendSlot.replaceChildren(renderLegend(scale, tracked && data?.track ? `p(${showToken(data.track.label)})` : "top-1 probability"));

    // Layer labels, top to bottom: final layer first, embeddings last.
    layersEl.replaceChildren();
    for (let r = layers.length - 1; r >= 0; r--) {
      const div = document.createElement("div");
      div.className = "iw-layer" + (r === layers.length - 1 && r > 0 ? " iw-final" : "");
      div.dataset.row = String(r);
      div.textContent = layers[r];
      div.title = r === 0 ? "the embeddings (before layer 0)" : r === layers.length - 1 ? `after layer ${layers[r]}: the model's own prediction` : `after layer ${layers[r]}`;
      layersEl.appendChild(div);
    }
    const caption = document.createElement("div");
    caption.className = "iw-layer-caption";
    caption.textContent = "input";
    layersEl.appendChild(caption);

    // Input-token labels under the grid (one per column).
    const frag = document.createDocumentFragment();
    colSpans = tokens.map((t, i) => {
      const sp = document.createElement("span");
      sp.className = "iw-token";
      sp.dataset.index = String(i);
      sp.textContent = showToken(String(t));
      frag.appendChild(sp);
      return sp;
    });
    colsEl.replaceChildren(frag);
    stage.style.width = `${tokens.length * CELL_W}px`;
    stage.style.height = `${layers.length * CELL_H}px`;

    const same = model.get("predicts") === "same";
    topBtn.title = same
      ? "each cell: its most likely token at that position (masked LM), coloured by its probability"
      : "each cell: its most likely next token, coloured by its probability";
    hint.textContent = tracked
      ? `Rank of ${showToken(data!.track!.label)} among the ${same ? "" : "next-"}token predictions (#1 = top) read from the residual stream after each layer.`
      : (same
        ? "Each cell: the token the masked-LM head predicts at that position (at a mask: what fills it) from the output of that layer."
        : "Each cell: the next token predicted from the residual stream after that layer, at that position.") +
        " Hover for the top-k" + (interactive ? "; double-click to track a cell's token." : ".");
    paint();
    syncSelection();
    syncBusy();
  };

  const syncSelection = () => {
    const sel = Number(model.get("selected_token") ?? -1);
    const n = colSpans.length;
    root.dataset.selected = String(sel);
    colSpans.forEach((sp, i) => sp.classList.toggle("iw-selected", i === sel));
    if (sel >= 0 && sel < n && data) {
      selBox.hidden = false;
      selBox.style.left = `${sel * CELL_W}px`;
      selBox.style.width = `${CELL_W - 1}px`;
      selBox.style.height = `${data.rows * CELL_H - 1}px`;
    } else {
      selBox.hidden = true;
    }
  };

  const syncBusy = () => {
    const busy = !!model.get("busy");
    const interactive = !!model.get("interactive");
    root.dataset.busy = String(busy);
    input.disabled = !interactive || busy;
    go.disabled = !interactive || busy;
    busyEl.hidden = !busy;
    busyEl.textContent = busy ? `tracking ${showToken(model.get("track_request") || "")}…` : "";
  };

  // -- interaction ----------------------------------------------------------------------

  /** The cell under a mouse event on the stage, as (data row, position), or null. */
  const cellFromEvent = (ev: MouseEvent): { r: number; c: number; x: number; y: number } | null => {
    if (!data) return null;
    const rect = stage.getBoundingClientRect();
    const x = ev.clientX - rect.left;
    const y = ev.clientY - rect.top;
    const c = Math.floor(x / CELL_W);
    const dr = Math.floor(y / CELL_H);
    if (c < 0 || c >= data.cols || dr < 0 || dr >= data.rows) return null;
    return { r: data.rows - 1 - dr, c, x: c * CELL_W, y: dr * CELL_H };
  };

  const place = (elX: number, elBottom: number) => {
    const rr = root.getBoundingClientRect();
    const sr = stage.getBoundingClientRect();
    return { left: sr.left - rr.left + elX, bottom: sr.top - rr.top + elBottom };
  };

  const mono = (text: string, cls = "iw-tip-token") => {
    const s = document.createElement("span");
    s.className = cls;
    s.textContent = text;
    return s;
  };

  /** Tooltip of a cell: the layer and position, then the top-k with probabilities. */
  const describeCell = (d: LensData, r: number, c: number): Node[] => {
    const layers = model.get("layers") ?? [];
    const tokens = model.get("tokens") ?? [];
    const vocab = model.get("vocab") ?? {};
    const head = document.createElement("div");
    head.className = "iw-tip-head";
    const where = r === 0 ? "embeddings" : `layer ${layers[r]}${r === d.rows - 1 ? " (output)" : ""}`;
    head.append(`${where} · after `, mono(showToken(String(tokens[c] ?? ""))), ` #${c}`);
    const list = document.createElement("div");
    list.className = "iw-tip-topk";
    for (let j = 0; j < d.k; j++) {
      const i = (r * d.cols + c) * d.k + j;
      const id = d.ids[i];
      const hit = d.track !== null && id === d.track.id;
      const rank = mono(String(j + 1), "iw-tip-rank");
      const tok = mono(showToken(vocab[String(id)] ?? `#${id}`));
      const p = mono(formatProb(d.probs[i]), "iw-tip-p");
      if (hit) [rank, tok, p].forEach((e) => e.classList.add("iw-tip-hit"));
      list.append(rank, tok, p);
    }
    const out: Node[] = [head, list];
    if (d.track) {
      const i = d.track.offset + r * d.cols + c;
      const foot = document.createElement("div");
      foot.className = "iw-tip-foot";
      foot.append("tracked ", mono(showToken(d.track.label)), `: rank ${rankLabel(d.track.rank[i])}, p ${formatProb(d.track.prob[i])}`);
      out.push(foot);
    }
    return out;
  };

  const onMove = (ev: MouseEvent) => {
    const cell = cellFromEvent(ev);
    if (!cell || !data) {
      hoverBox.hidden = true;
      tooltip.hide();
      return;
    }
    hoverBox.hidden = false;
    hoverBox.style.left = `${cell.x}px`;
    hoverBox.style.top = `${cell.y}px`;
    hoverBox.style.width = `${CELL_W - 1}px`;
    hoverBox.style.height = `${CELL_H - 1}px`;
    root.dataset.hoverRow = String(cell.r);
    root.dataset.hoverCol = String(cell.c);
    tooltip.show(describeCell(data, cell.r, cell.c), place(cell.x, cell.y + CELL_H));
  };
  const onLeave = () => {
    hoverBox.hidden = true;
    tooltip.hide();
  };

  const select = (i: number) => {
    const next = model.get("selected_token") === i ? -1 : i; // a second click clears
    model.set("selected_token", next);
    model.save_changes();
    syncSelection();
  };
  const onStageClick = (ev: MouseEvent) => {
    const cell = cellFromEvent(ev);
    if (cell) select(cell.c);
  };
  const requestTrack = (token: string) => {
    if (!token || !model.get("interactive") || model.get("busy")) return;
    model.set("track_request", token);
    model.save_changes();
    syncBusy();
  };
  const onStageDblClick = (ev: MouseEvent) => {
    const cell = cellFromEvent(ev);
    if (!cell || !data) return;
    const id = data.ids[(cell.r * data.cols + cell.c) * data.k];
    const tok = (model.get("vocab") ?? {})[String(id)];
    if (tok === undefined) return;
    // The two clicks of a double-click toggled the selection: keep this column selected.
    model.set("selected_token", cell.c);
    syncSelection();
    input.value = tok;
    requestTrack(tok);
  };
  const onColClick = (ev: Event) => {
    const sp = (ev.target as Element | null)?.closest?.(".iw-token") as HTMLElement | null;
    if (sp) select(Number(sp.dataset.index));
  };
  const onColOver = (ev: Event) => {
    const sp = (ev.target as Element | null)?.closest?.(".iw-token") as HTMLElement | null;
    if (!sp) return;
    const i = Number(sp.dataset.index);
    const head = document.createElement("div");
    head.append("input ", mono(showToken(String((model.get("tokens") ?? [])[i] ?? ""))), ` #${i}`);
    const rr = root.getBoundingClientRect();
    const r = sp.getBoundingClientRect();
    tooltip.show([head], { left: r.left - rr.left, bottom: r.bottom - rr.top });
  };
  const onSubmit = (ev: Event) => {
    ev.preventDefault();
    requestTrack(input.value);
  };
  const setMode = (mode: "top" | "track") => {
    if (model.get("mode") === mode) return;
    model.set("mode", mode);
    model.save_changes();
  };
  const onTop = () => setMode("top");
  const onTrack = () => setMode("track");
  const onPick = () => {
    model.set("track_index", Number(trackSelect.value));
    model.save_changes();
  };

  // Scrolling past the painted columns (or a wider window) paints the ones now in view.
  const onScroll = () => {
    onLeave(); // the pointer is over another cell now: a tooltip would describe the old one
    if (data && colWindow.stale(data.cols, CELL_W)) paint();
  };
  shell.listen(scroll, "scroll", onScroll);
  if (typeof window !== "undefined") shell.listen(window, "resize", onScroll);
  shell.listen(stage, "mousemove", onMove);
  shell.listen(stage, "mouseleave", onLeave);
  shell.listen(stage, "click", onStageClick);
  shell.listen(stage, "dblclick", onStageDblClick);
  shell.listen(colsEl, "click", onColClick);
  shell.listen(colsEl, "mouseover", onColOver);
  shell.listen(colsEl, "mouseleave", onLeave);
  shell.listen(form, "submit", onSubmit);
  shell.listen(topBtn, "click", onTop);
  shell.listen(trackBtn, "click", onTrack);
  shell.listen(trackSelect, "change", onPick);

  const redraw = coalesce(draw);
  shell.cleanup(redraw.cancel);
  shell.cleanup(() => tooltip.remove());
  for (const k of DATA_TRAITS) shell.on(`change:${k}`, redraw.schedule);
  shell.on("change:selected_token", syncSelection);
  shell.on("change:busy", syncBusy);
  shell.on("change:track_request", syncBusy);
  shell.watchTheme(draw);

  draw();
  return shell.dispose;
}

export default { render };
