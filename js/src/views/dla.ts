/**
 * DirectLogitAttributionView: each attention head's direct contribution to a target logit
 * (or logit difference) as a layers x heads heatmap on a canvas, per-layer bars (attention
 * total and MLP) on the same rows, and the remaining terms with a "sum of parts = logit" check.
 * Python: interp_widgets/views/dla.py (same trait names).
 *
 * Data: `heads` float32 [layers, heads]; `attn_bias`, `mlp` float32 [layers]; the scalar
 * terms as numbers. Positive values push the target up (blue), negative push it down (red).
 */
import type { RenderProps } from "@anywidget/types";
import { decodeArray, firstNonFinite, type ArrayPayload } from "../lib/codec";
import { renderLegend } from "../lib/legend";
import { domainOf, makeScale, type ColorScale } from "../lib/scale";
import { coalesce } from "../lib/schedule";
import { context2d, paintGrid, sizeCanvas, type GridOutline } from "../lib/canvas";
import { createViewShell } from "../lib/shell";
import { type ThemeOption } from "../lib/theme";
import { displayToken } from "../lib/tokens";
import { createTooltip } from "../lib/tooltip";

export interface DlaModel {
  tokens: string[];
  position: number;
  target: string;
  heads: ArrayPayload | null;
  attn_bias: ArrayPayload | null;
  mlp: ArrayPayload | null;
  embed: number;
  norm_bias: number;
  lm_bias: number;
  logit: number;
  title: string;
  selected_layer: number;
  selected_head: number;
  error: string;
  theme: ThemeOption;
}

/** Height of one layer row (heatmap row and bar row share it), in CSS pixels. */
export const ROW_H = 16;
/** Width of one head column of the heatmap, in CSS pixels. */
export const CELL_W = 30;
/** Tokens of context shown before the explained position. */
const CONTEXT = 14;

const CSS = `
.iw-dla .iw-dla-context { font-family: var(--iw-mono); font-size: 12px; color: var(--iw-muted); margin: 0 0 10px;
  white-space: pre-wrap; word-break: break-word; }
.iw-dla .iw-dla-context .iw-dla-pos { color: var(--iw-fg); font-weight: 600; outline: 1.5px solid var(--iw-accent);
  border-radius: 3px; padding: 0 2px; }
.iw-dla .iw-dla-context .iw-dla-next { color: var(--iw-accent); margin-left: 6px; }
.iw-dla-main { display: grid; column-gap: 10px; align-items: stretch; width: max-content; max-width: 100%; overflow-x: auto; }
.iw-dla-main .iw-dla-colhead { font-size: 11px; color: var(--iw-muted); align-self: end; padding-bottom: 3px; white-space: nowrap; }
.iw-dla-heads-axis { display: flex; font-family: var(--iw-mono); }
.iw-dla-heads-axis span { text-align: center; }
.iw-dla-lab { font-family: var(--iw-mono); font-size: 10.5px; color: var(--iw-muted); text-align: right; line-height: ${ROW_H}px; }
.iw-dla-lab.iw-sel { color: var(--iw-accent); font-weight: 700; }
canvas.iw-dla-heads { display: block; cursor: pointer; }
.iw-dla-layer { display: grid; grid-template-columns: 110px 48px 110px 48px; column-gap: 4px; align-items: center;
  height: ${ROW_H}px; border-radius: 2px; }
.iw-dla-layer:hover { background: var(--iw-panel); }
.iw-dla-track { position: relative; height: ${ROW_H - 5}px; }
.iw-dla-track::before { content: ""; position: absolute; left: 50%; top: -3px; bottom: -3px; border-left: 1px solid var(--iw-border); }
.iw-dla-bar { position: absolute; top: 0; bottom: 0; border-radius: 1px; }
.iw-dla-num { font-family: var(--iw-mono); font-size: 10.5px; color: var(--iw-muted); text-align: right; white-space: nowrap; }
.iw-dla-num.iw-big { color: var(--iw-fg); }
.iw-dla-barhead { display: grid; grid-template-columns: 110px 48px 110px 48px; column-gap: 4px; }
.iw-dla-barhead span { text-align: center; }
.iw-dla-foot { margin-top: 12px; display: flex; flex-direction: column; gap: 4px; }
.iw-dla-terms { display: flex; flex-wrap: wrap; gap: 2px 16px; font-size: 12px; }
.iw-dla-terms .iw-k { color: var(--iw-muted); margin-right: 4px; }
.iw-dla-terms .iw-v { font-family: var(--iw-mono); }
.iw-dla-check { font-size: 12px; font-family: var(--iw-mono); color: var(--iw-muted); }
.iw-dla-check[data-ok="true"] .iw-dla-mark { color: #1a7f37; }
.iw-root[data-iw-dark="true"] .iw-dla-check[data-ok="true"] .iw-dla-mark { color: #3fb950; }
.iw-dla-check[data-ok="false"] { color: var(--iw-error-fg); }
.iw-dla .iw-hint { margin-top: 2px; }
`;

/** "+1.234" / "-0.500": signed, fixed decimals (numbers line up in the bars and tooltips). */
export function signed(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return String(v);
  const s = Math.abs(v).toFixed(digits);
  return (v < 0 && Number(s) !== 0 ? "-" : "+") + s;
}

interface Data {
  L: number;
  H: number;
  heads: ArrayLike<number>;
  attnBias: ArrayLike<number>;
  mlp: ArrayLike<number>;
  /** Attention total per layer: its heads plus its output bias. */
  attn: Float64Array;
}

/** Decode and check the arrays; throws an Error with a readable message. */
function readData(model: { get<K extends keyof DlaModel>(k: K): DlaModel[K] }): Data | null {
  const heads = decodeArray(model.get("heads"));
  const bias = decodeArray(model.get("attn_bias"));
  const mlp = decodeArray(model.get("mlp"));
  if (!heads || !mlp) return null;
  if (heads.shape.length !== 2) throw new Error(`heads must be [layers, heads], got shape [${heads.shape.join(", ")}]`);
  const [L, H] = heads.shape;
  if (mlp.data.length !== L) throw new Error(`mlp has ${mlp.data.length} values for ${L} layers`);
  const attnBias = bias ? bias.data : new Float32Array(L);
  if (attnBias.length !== L) throw new Error(`attn_bias has ${attnBias.length} values for ${L} layers`);
  for (const [name, d] of [["heads", heads.data], ["attn_bias", attnBias], ["mlp", mlp.data]] as const) {
    const bad = firstNonFinite(d);
    if (bad) throw new Error(`${name} has ${bad.count} non-finite value(s) (NaN/inf)`);
  }
  const attn = new Float64Array(L);
  for (let l = 0; l < L; l++) {
    let s = attnBias[l];
    for (let h = 0; h < H; h++) s += heads.data[l * H + h];
    attn[l] = s;
  }
  return { L, H, heads: heads.data, attnBias, mlp: mlp.data, attn };
}

function sum(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

function span(cls: string, text: string): HTMLSpanElement {
  const s = document.createElement("span");
  s.className = cls;
  s.textContent = text;
  return s;
}

function render({ model, el }: Pick<RenderProps<DlaModel>, "model" | "el">): () => void {
  // The header is rebuilt by each draw (title, summary, legend): the shell's title and summary
  // are replaced there.
  const shell = createViewShell(el, model, "iw-dla", CSS, { progress: false });
  const { root, header, dataError } = shell;
  const context = document.createElement("div");
  context.className = "iw-dla-context";
  const main = document.createElement("div");
  main.className = "iw-dla-main";
  const foot = document.createElement("div");
  foot.className = "iw-dla-foot";
  root.append(context, main, foot);
  const tip = createTooltip(root);

  const canvas = document.createElement("canvas");
  canvas.className = "iw-dla-heads";
  canvas.setAttribute("role", "img");
  let data: Data | null = null;
  let scale: ColorScale | null = null;
  let colors = { bg: "#ffffff", fg: "#1f2328", accent: "#0969da" };
  let hover: [number, number] | null = null;
  let labels: HTMLElement[] = [];

  /** Paint every head cell (1 px gaps in the background colour), then the outlines. */
  const paint = () => {
    const ctx = data && scale ? context2d(canvas) : null;
    if (!ctx || !data || !scale) return;
    const d = data;
    const s = scale;
    const outlines: GridOutline[] = [];
    if (hover) outlines.push({ row: hover[0], col: hover[1], color: colors.fg, width: 1 });
    outlines.push({ row: model.get("selected_layer"), col: model.get("selected_head"), color: colors.accent, width: 2 });
    paintGrid(ctx, { rows: d.L, cols: d.H, cellW: CELL_W, cellH: ROW_H, background: colors.bg,
      color: (l, h) => s.color(d.heads[l * d.H + h]), outlines });
  };

  const markSelected = () => {
    const sl = model.get("selected_layer");
    labels.forEach((lab, l) => lab.classList.toggle("iw-sel", l === sl));
    paint();
  };

  const draw = () => {
    const resolved = shell.theme();
    root.dataset.iwDark = String(resolved.dark);
    const cs = typeof getComputedStyle === "function" ? getComputedStyle(root) : null;
    const accent = cs?.getPropertyValue("--iw-accent").trim();
    colors = {
      bg: resolved.background,
      fg: resolved.foreground,
      accent: accent && !accent.includes("var(") ? accent : resolved.dark ? "#4493f8" : "#0969da",
    };
    header.replaceChildren();
    context.replaceChildren();
    main.replaceChildren();
    foot.replaceChildren();
    labels = [];
    hover = null;
    tip.hide();

    try {
      data = readData(model);
      dataError.set(data ? "" : "Nothing to show: no head or MLP contributions were sent.");
    } catch (e) {
      data = null;
      dataError.set(`Cannot show this attribution: ${(e as Error).message}.`);
    }

    // Header: title, what is explained, the colour legend of the heads.
    const title = model.get("title") ?? "";
    if (title) header.appendChild(span("iw-title", title));
    const summary = document.createElement("div");
    summary.className = "iw-summary";
    const item = (k: string, v: string, cls = "") => {
      const d = document.createElement("span");
      if (cls) d.className = cls;
      d.append(span("iw-k", k), span("iw-v", v));
      summary.appendChild(d);
    };
    const tokens = model.get("tokens") ?? [];
    const pos = model.get("position") ?? tokens.length - 1;
    item("target", model.get("target") ?? "", "iw-dla-target");
    item("position", `#${pos} ${displayToken(String(tokens[pos] ?? ""))}`, "iw-dla-position");
    // A pair of targets ("'a' - 'b'", as the kernel labels it) explains a logit difference.
    const logitName = / - /.test(model.get("target") ?? "") ? "logit diff" : "logit";
    item(logitName, signed(model.get("logit") ?? 0), "iw-dla-logit");
    header.appendChild(summary);

    // The text up to the explained position (its next-token logit is what is explained).
    if (tokens.length) {
      const start = Math.max(0, pos - CONTEXT + 1);
      if (start > 0) context.append("…");
      for (let i = start; i < pos; i++) context.append(displayToken(String(tokens[i])));
      context.append(span("iw-dla-pos", displayToken(String(tokens[pos] ?? ""))));
      context.append(span("iw-dla-next", `→ ${model.get("target") ?? ""}`));
    }
    if (!data) return;
    const d = data;

    scale = makeScale({
      kind: "diverging",
      domain: domainOf("diverging", d.heads),
      background: resolved.background,
      foreground: resolved.foreground,
      dark: resolved.dark,
    });
    header.appendChild(renderLegend(scale, "head → logit"));

    // One grid: layer labels | heatmap | bars, one grid row per layer under a header row.
    main.style.gridTemplateColumns = `max-content ${d.H * CELL_W}px max-content`;
    main.style.gridTemplateRows = `auto repeat(${d.L}, ${ROW_H}px)`;
    main.appendChild(span("iw-dla-colhead", "layer"));
    const axis = document.createElement("div");
    axis.className = "iw-dla-colhead iw-dla-heads-axis";
    for (let h = 0; h < d.H; h++) {
      const s = span("", `H${h}`);
      s.style.width = `${CELL_W}px`;
      axis.appendChild(s);
    }
    main.appendChild(axis);
    const barHead = document.createElement("div");
    barHead.className = "iw-dla-colhead iw-dla-barhead";
    barHead.append(span("", "attention"), span("", ""), span("", "MLP"), span("", ""));
    main.appendChild(barHead);

    sizeCanvas(canvas, d.H * CELL_W, d.L * ROW_H);
    canvas.style.gridColumn = "2";
    canvas.style.gridRow = `2 / span ${d.L}`;
    canvas.setAttribute("aria-label", `direct contributions of ${d.L} x ${d.H} attention heads`);
    main.appendChild(canvas);

    // Bars share one magnitude scale (attention totals and MLPs), coloured like the heatmap.
    let barMax = 0;
    for (let l = 0; l < d.L; l++) barMax = Math.max(barMax, Math.abs(d.attn[l]), Math.abs(d.mlp[l]));
    barMax = barMax || 1;
    const pos_ = scale.color(scale.hi * 0.85);
    const neg_ = scale.color(scale.lo * 0.85);
    const bar = (v: number) => {
      const track = document.createElement("div");
      track.className = "iw-dla-track";
      const b = document.createElement("div");
      b.className = "iw-dla-bar";
      const w = `${(Math.abs(v) / barMax) * 50}%`;
      b.style.width = w;
      if (v >= 0) b.style.left = "50%";
      else b.style.right = "50%";
      b.style.background = v >= 0 ? pos_ : neg_;
      track.appendChild(b);
      return track;
    };
    const num = (v: number) => {
      const s = span("iw-dla-num", signed(v, 2));
      if (Math.abs(v) >= 0.25 * barMax) s.classList.add("iw-big");
      return s;
    };
    for (let l = 0; l < d.L; l++) {
      const lab = span("iw-dla-lab", `L${l}`);
      lab.style.gridColumn = "1";
      lab.style.gridRow = String(l + 2);
      labels.push(lab);
      const row = document.createElement("div");
      row.className = "iw-dla-layer";
      row.dataset.layer = String(l);
      row.dataset.attn = String(d.attn[l]);
      row.dataset.mlp = String(d.mlp[l]);
      row.style.gridColumn = "3";
      row.style.gridRow = String(l + 2);
      row.append(bar(d.attn[l]), num(d.attn[l]), bar(d.mlp[l]), num(d.mlp[l]));
      main.append(lab, row);
    }

    // Footer: every term of the sum, and the check that they add up to the logit.
    const terms = document.createElement("div");
    terms.className = "iw-dla-terms";
    const headSum = sum(d.heads);
    const biasSum = sum(d.attnBias);
    const mlpSum = sum(d.mlp);
    const embed = model.get("embed") ?? 0;
    const normBias = model.get("norm_bias") ?? 0;
    const lmBias = model.get("lm_bias") ?? 0;
    const parts: [string, number, string][] = [
      ["embed", embed, "embed"],
      ["heads Σ", headSum, "heads"],
      ["attn bias Σ", biasSum, "attn-bias"],
      ["MLP Σ", mlpSum, "mlp"],
      ["norm bias", normBias, "norm-bias"],
      ["LM bias", lmBias, "lm-bias"],
    ];
    for (const [k, v, key] of parts) {
      const t = document.createElement("span");
      t.dataset.term = key;
      t.append(span("iw-k", k), span("iw-v", signed(v)));
      terms.appendChild(t);
    }
    const total = embed + headSum + biasSum + mlpSum + normBias + lmBias;
    const logit = model.get("logit") ?? 0;
    const ok = Math.abs(total - logit) <= 1e-3 * Math.max(1, Math.abs(logit));
    const check = document.createElement("div");
    check.className = "iw-dla-check";
    check.dataset.ok = String(ok);
    check.append(
      `sum of parts ${signed(total)} = ${logitName} ${signed(logit)} `,
      span("iw-dla-mark", ok ? "✓" : `✗ (off by ${signed(total - logit, 4)})`),
    );
    const hint = document.createElement("div");
    hint.className = "iw-hint";
    hint.textContent = "Hover a head for its value; click to select it. Final norm's scale frozen from this run.";
    foot.append(terms, check, hint);

    markSelected();
  };

  // -- interaction: hover tooltip and click selection on the canvas; tooltips on bar rows --

  /** The [layer, head] under the mouse, or null. Uses the fixed cell size (CSS pixels). */
  const cellAt = (ev: MouseEvent): [number, number] | null => {
    if (!data) return null;
    const r = canvas.getBoundingClientRect();
    const h = Math.floor((ev.clientX - r.left) / CELL_W);
    const l = Math.floor((ev.clientY - r.top) / ROW_H);
    return l >= 0 && l < data.L && h >= 0 && h < data.H ? [l, h] : null;
  };

  /** Place the tooltip under a rectangle given relative to the viewport. */
  const showTip = (lines: string[], rect: { left: number; bottom: number }) => {
    const rr = root.getBoundingClientRect();
    const nodes = lines.map((t, i) => {
      const div = document.createElement("div");
      if (i === 0) div.className = "iw-tip-token";
      div.textContent = t;
      return div;
    });
    tip.show(nodes, { left: rect.left - rr.left, bottom: rect.bottom - rr.top });
  };

  const onMove = (ev: MouseEvent) => {
    const cell = cellAt(ev);
    if (!cell || !data) {
      if (hover) {
        hover = null;
        paint();
      }
      tip.hide();
      return;
    }
    const [l, h] = cell;
    if (!hover || hover[0] !== l || hover[1] !== h) {
      hover = cell;
      paint();
    }
    const v = data.heads[l * data.H + h];
    const r = canvas.getBoundingClientRect();
    showTip([`L${l}H${h}: ${signed(v)}`], { left: r.left + h * CELL_W, bottom: r.top + (l + 1) * ROW_H });
  };
  const onLeave = () => {
    hover = null;
    paint();
    tip.hide();
  };
  const onClick = (ev: MouseEvent) => {
    const cell = cellAt(ev);
    if (!cell) return;
    const same = model.get("selected_layer") === cell[0] && model.get("selected_head") === cell[1];
    model.set("selected_layer", same ? -1 : cell[0]);
    model.set("selected_head", same ? -1 : cell[1]);
    model.save_changes();
  };
  shell.listen(canvas, "mousemove", onMove);
  shell.listen(canvas, "mouseleave", onLeave);
  shell.listen(canvas, "click", onClick);

  const onRowOver = (ev: Event) => {
    const row = (ev.target as Element | null)?.closest?.(".iw-dla-layer") as HTMLElement | null;
    if (!row || !data) {
      if (!(ev.target instanceof HTMLCanvasElement)) tip.hide();
      return;
    }
    const l = Number(row.dataset.layer);
    const r = row.getBoundingClientRect();
    showTip(
      [
        `L${l}: ${signed(data.attn[l] + data.mlp[l])}`,
        `attention ${signed(data.attn[l])}` + (data.attnBias[l] !== 0 ? ` (bias ${signed(data.attnBias[l])})` : ""),
        `MLP ${signed(data.mlp[l])}`,
      ],
      { left: r.left, bottom: r.bottom },
    );
  };
  const onMainLeave = () => tip.hide();
  shell.listen(main, "mouseover", onRowOver);
  shell.listen(main, "mouseleave", onMainLeave);

  // Several traits often change in one message: redraw once.
  const redraw = coalesce(draw);
  const DATA_TRAITS = ["tokens", "position", "target", "heads", "attn_bias", "mlp", "embed", "norm_bias",
    "lm_bias", "logit", "title", "theme"] as const;
  shell.cleanup(() => tip.remove());
  shell.cleanup(redraw.cancel);
  for (const k of DATA_TRAITS) shell.on(`change:${k}`, redraw.schedule);
  shell.on("change:selected_layer", markSelected);
  shell.on("change:selected_head", markSelected);
  shell.watchTheme(draw);

  draw();
  return shell.dispose;
}

export default { render };
