/**
 * SuperpositionView: the toy model of superposition (Elhage et al. 2022). Each feature's
 * direction W_i in the hidden plane as an arrow from the origin (coloured by its
 * superposition measure Σ_{j≠i} (Ŵ_i·W_j)²: the theme's text colour when the feature has a
 * dimension to itself, yellow when it shares one), the WᵀW matrix (canvas, diverging scale,
 * hover values) and the per-feature norms. Sliders set `sparsity` (on a log(1 − S) scale,
 * finer near 1) and `importance_decay`; on release Python retrains and pushes new weights.
 * Python: interp_widgets/views/superposition.py (same trait names).
 */
import type { RenderProps } from "@anywidget/types";
import { interpolateLab } from "d3-interpolate";
import { rgb } from "d3-color";
import { asMatrix, decodeArray, decodeFinite, type ArrayPayload } from "../lib/codec";
import { format4, formatShort } from "../lib/format";
import { renderLegend } from "../lib/legend";
import { createSection } from "../lib/section";
import { domainOf, makeScale, type ColorScale } from "../lib/scale";
import { coalesce } from "../lib/schedule";
import { context2d, sizeCanvas } from "../lib/canvas";
import { createViewShell } from "../lib/shell";
import { type ThemeOption } from "../lib/theme";
import { createTooltip } from "../lib/tooltip";

export interface SuperpositionModel {
  n_features: number;
  n_hidden: number;
  W: ArrayPayload | null;
  b: ArrayPayload | null;
  directions: ArrayPayload | null;
  projected: boolean;
  explained: number[];
  wtw: ArrayPayload | null;
  norms: ArrayPayload | null;
  superposition: ArrayPayload | null;
  importance: ArrayPayload | null;
  loss: number;
  n_represented: number;
  train_seconds: number;
  sparsity: number;
  importance_decay: number | null;
  busy: boolean;
  progress: number;
  error: string;
  interactive: boolean;
  theme: ThemeOption;
}

const DATA_TRAITS = [
  "n_features",
  "n_hidden",
  "directions",
  "projected",
  "explained",
  "wtw",
  "norms",
  "superposition",
  "importance",
  "loss",
  "n_represented",
  "train_seconds",
  "interactive",
  "theme",
] as const;

/** The sparsity slider moves along t = −log10(1 − S): 0 → S = 0, 1 → 0.9, 2 → 0.99. */
export const SPARSITY_T_MAX = 2;
export function sparsityFromT(t: number): number {
  const s = 1 - Math.pow(10, -t);
  return Math.min(0.99, Math.max(0, Math.round(s * 1e4) / 1e4));
}
export function tFromSparsity(s: number): number {
  if (!(s > 0)) return 0;
  return Math.min(SPARSITY_T_MAX, -Math.log10(Math.max(1e-9, 1 - s)));
}

/** Superposition colour: the theme's text colour at 0, yellow at 1 and beyond. */
export function superColor(s: number, foreground: string, dark: boolean): string {
  const t = Math.max(0, Math.min(1, Number.isFinite(s) ? s : 0));
  const yellow = dark ? "#ffd33d" : "#e0a100";
  return rgb(interpolateLab(foreground, yellow)(t)).formatHex();
}

/** Features with ‖Wᵢ‖ below this are "dropped": drawn grey, whatever their superposition. */
export const DROPPED = 0.1;
const PLOT = 300; // directions plot, px
const HEAT = 260; // heatmap target size, px
const SVG = "http://www.w3.org/2000/svg";

function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

const CSS = `
.iw-superposition .iw-sp-controls { display: flex; flex-wrap: wrap; gap: 8px 28px; align-items: center; margin-bottom: 8px; }
.iw-superposition .iw-sp-control { display: flex; align-items: center; gap: 8px; font-size: 12px; }
.iw-superposition .iw-sp-control label { color: var(--iw-muted); }
.iw-superposition .iw-sp-control input[type=range] { width: 170px; accent-color: var(--iw-accent); }
.iw-superposition .iw-sp-control input[type=range]:disabled { opacity: 0.5; }
.iw-superposition .iw-sp-value { font-family: var(--iw-mono); min-width: 9em; }
.iw-superposition .iw-sp-main { display: flex; flex-wrap: wrap; gap: 16px 28px; align-items: flex-start; }
.iw-superposition[data-busy="true"] .iw-sp-main { opacity: 0.6; cursor: progress; }
.iw-superposition .iw-section-title { font-size: 12px; font-weight: 600; color: var(--iw-muted); margin-bottom: 4px;
  text-transform: uppercase; letter-spacing: 0.04em; }
.iw-superposition .iw-sp-caption { font-size: 11px; color: var(--iw-muted); max-width: ${PLOT}px; margin-top: 2px; }
.iw-superposition svg { display: block; overflow: visible; }
.iw-superposition .iw-sp-axis { stroke: var(--iw-border); stroke-width: 1; }
.iw-superposition .iw-sp-unit { fill: none; stroke: var(--iw-border); stroke-dasharray: 3 3; }
.iw-superposition .iw-sp-label { font-family: var(--iw-mono); font-size: 12px; font-weight: 600; fill: var(--iw-fg);
  paint-order: stroke; stroke: var(--iw-bg); stroke-width: 3px; }
.iw-superposition .iw-sp-arrow:hover line { stroke-width: 4; }
.iw-superposition .iw-sp-dropped line { stroke: var(--iw-muted); }
.iw-superposition .iw-sp-dropped polygon, .iw-superposition .iw-sp-dropped circle,
.iw-superposition rect.iw-sp-bar.iw-sp-dropped { fill: var(--iw-muted); }
.iw-superposition .iw-sp-heat canvas { display: block; border: 1px solid var(--iw-border); }
.iw-superposition .iw-sp-heat .iw-legend { margin-top: 6px; }
.iw-superposition .iw-sp-bars text { font-family: var(--iw-mono); font-size: 11px; fill: var(--iw-muted); }
.iw-superposition .iw-sp-bars .iw-sp-ref { stroke: var(--iw-border); stroke-dasharray: 2 2; }
.iw-superposition .iw-sp-superleg { display: flex; flex-wrap: wrap; max-width: ${PLOT}px; align-items: center; gap: 4px 6px; font-size: 11px; color: var(--iw-muted); font-family: var(--iw-mono); margin-top: 6px; }
.iw-superposition .iw-sp-superleg .iw-legend-bar { width: 100px; }
`;

interface Data {
  n: number;
  xy: ArrayLike<number> | null; // [2, n]
  wtw: ArrayLike<number> | null; // [n, n]
  norms: ArrayLike<number> | null;
  sup: ArrayLike<number> | null;
  imp: ArrayLike<number> | null;
}

/** "0, 2–5, 9": sorted indices with runs collapsed. */
export function compactList(xs: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < xs.length; ) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j] + 1) j++;
    out.push(j - i >= 2 ? `${xs[i]}–${xs[j]}` : j > i ? `${xs[i]}, ${xs[j]}` : `${xs[i]}`);
    i = j + 1;
  }
  return out.join(", ");
}

function render({ model, el }: Pick<RenderProps<SuperpositionModel>, "model" | "el">): () => void {
  const shell = createViewShell(el, model, "iw-superposition", CSS);
  const { root, dataError, addPair } = shell;
  shell.title.textContent = "Toy model of superposition";

  // Sliders.
  const controls = document.createElement("div");
  controls.className = "iw-sp-controls";
  const slider = (name: string, cls: string, min: number, max: number, step: number) => {
    const wrap = document.createElement("div");
    wrap.className = `iw-sp-control ${cls}`;
    const lab = document.createElement("label");
    lab.textContent = name;
    const input = document.createElement("input");
    input.type = "range";
    input.min = String(min);
    input.max = String(max);
    input.step = String(step);
    input.setAttribute("aria-label", name);
    const value = document.createElement("span");
    value.className = "iw-sp-value";
    wrap.append(lab, input, value);
    controls.appendChild(wrap);
    return { input, value };
  };
  const sp = slider("sparsity", "iw-sp-sparsity", 0, SPARSITY_T_MAX, 0.05);
  const imp = slider("importance decay", "iw-sp-importance", 0.5, 1, 0.01);
  const hint = document.createElement("span");
  hint.className = "iw-hint";
  controls.appendChild(hint);
  // The sliders sit between the header and the progress bar.
  shell.header.after(controls);

  const main = document.createElement("div");
  main.className = "iw-sp-main";
  const dirSec = createSection("Feature directions", "iw-sp-dirs");
  const dirPlot = document.createElement("div");
  dirPlot.className = "iw-sp-plot-slot";
  const dirCaption = document.createElement("div");
  dirCaption.className = "iw-sp-caption";
  const superLeg = document.createElement("div");
  superLeg.className = "iw-sp-superleg";
  dirSec.append(dirPlot, dirCaption, superLeg);
  const heatSec = createSection("WᵀW", "iw-sp-heat");
  const canvas = document.createElement("canvas");
  canvas.className = "iw-sp-wtw";
  canvas.setAttribute("role", "img");
  const heatLegend = document.createElement("div");
  heatSec.append(canvas, heatLegend);
  const barSec = createSection("Feature norms ‖Wᵢ‖", "iw-sp-bars");
  main.append(dirSec, heatSec, barSec);
  root.append(main);
  const tip = createTooltip(root);

  let data: Data | null = null;
  let scale: ColorScale | null = null;
  let cell = 10;
  let colors = { bg: "#ffffff", fg: "#1f2328", dark: false };
  let hover: [number, number] | null = null;

  const vector = (key: keyof SuperpositionModel, what: string, problems: string[]) =>
    decodeFinite(model.get(key) as ArrayPayload | null, what, problems);

  const readData = (problems: string[]): Data | null => {
    const n = Number(model.get("n_features") ?? 0);
    const xy = vector("directions", "feature directions", problems);
    const wtw = vector("wtw", "WᵀW", problems);
    const norms = vector("norms", "norms", problems);
    const sup = vector("superposition", "superposition", problems);
    const impv = vector("importance", "importance", problems);
    if (!n) return null;
    const check = (a: ArrayLike<number> | null, size: number, what: string) => {
      if (a && a.length !== size) {
        problems.push(`${what} has ${a.length} values, expected ${size}`);
        return null;
      }
      return a;
    };
    try {
      const d = decodeArray(model.get("directions"));
      if (d && (asMatrix(d).rows !== 2 || asMatrix(d).cols !== n)) problems.push(`feature directions must be [2, ${n}], got [${d.shape.join(", ")}]`);
    } catch {
      /* already reported */
    }
    return {
      n,
      xy: check(xy, 2 * n, "feature directions"),
      wtw: check(wtw, n * n, "WᵀW"),
      norms: check(norms, n, "norms"),
      sup: check(sup, n, "superposition"),
      imp: check(impv, n, "importance"),
    };
  };

  const isDropped = (i: number) => !!data?.norms && data.norms[i] < DROPPED;

  const featureText = (i: number) => {
    if (!data) return `feature ${i}`;
    const parts = [`feature ${i}`];
    if (data.norms) parts.push(`‖W‖ = ${format4(data.norms[i])}`);
    if (data.sup) parts.push(`superposition = ${format4(data.sup[i])}`);
    if (data.imp) parts.push(`importance = ${format4(data.imp[i])}`);
    if (isDropped(i)) parts.push(`dropped (‖W‖ < ${DROPPED})`);
    return parts.join("\n");
  };

  /** (a) Each feature's direction as an arrow from the origin. */
  const drawDirections = () => {
    dirPlot.replaceChildren();
    if (!data || !data.xy) {
      const none = document.createElement("div");
      none.className = "iw-empty";
      none.textContent = "no feature directions";
      dirPlot.appendChild(none);
      return;
    }
    const { n, xy } = data;
    let maxR = 1;
    for (let i = 0; i < n; i++) maxR = Math.max(maxR, Math.hypot(xy[i], xy[n + i]));
    const c = PLOT / 2;
    const k = (c - 22) / maxR; // px per unit
    const svg = svgEl("svg", { class: "iw-sp-plot", width: PLOT, height: PLOT, viewBox: `0 0 ${PLOT} ${PLOT}`, role: "img" });
    svg.setAttribute("aria-label", `${n} feature directions in the hidden space`);
    svg.append(
      svgEl("line", { class: "iw-sp-axis", x1: 4, x2: PLOT - 4, y1: c, y2: c }),
      svgEl("line", { class: "iw-sp-axis", x1: c, x2: c, y1: 4, y2: PLOT - 4 }),
      svgEl("circle", { class: "iw-sp-unit", cx: c, cy: c, r: k }),
    );
    // Draw weak features first so strong ones stay on top.
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => Math.hypot(xy[a], xy[n + a]) - Math.hypot(xy[b], xy[n + b]));
    const atOrigin: number[] = [];
    for (const i of order) {
      const x = xy[i];
      const y = xy[n + i];
      const len = Math.hypot(x, y);
      const color = superColor(data.sup ? data.sup[i] : 0, colors.fg, colors.dark);
      const g = svgEl("g", { class: isDropped(i) ? "iw-sp-arrow iw-sp-dropped" : "iw-sp-arrow", "data-feature": i });
      const x2 = c + x * k;
      const y2 = c - y * k;
      const tipLen = Math.min(10, len * k * 0.5);
      const ux = len > 0 ? x / len : 1;
      const uy = len > 0 ? y / len : 0;
      // Shaft stops at the arrowhead's base.
      g.appendChild(svgEl("line", { x1: c, y1: c, x2: x2 - ux * tipLen, y2: y2 + uy * tipLen, stroke: color, "stroke-width": 2.5, "stroke-linecap": "round" }));
      if (tipLen > 0.5) {
        const bx = x2 - ux * tipLen;
        const by = y2 + uy * tipLen;
        const w = tipLen * 0.55;
        const pts = [
          [x2, y2],
          [bx - uy * w, by - ux * w],
          [bx + uy * w, by + ux * w],
        ];
        g.appendChild(svgEl("polygon", { points: pts.map((p) => p.map((v) => v.toFixed(2)).join(",")).join(" "), fill: color }));
      } else {
        g.appendChild(svgEl("circle", { cx: c, cy: c, r: 2.5, fill: color }));
      }
      // The index just beyond the tip; features (nearly) at the origin are listed below
      // the plot instead, where their labels would pile up.
      if (len * k >= 8) {
        const lx = c + ux * (len * k + 11);
        const ly = c - uy * (len * k + 11);
        const label = svgEl("text", { class: "iw-sp-label", x: lx, y: ly, "text-anchor": "middle", "dominant-baseline": "central" });
        label.textContent = String(i);
        g.appendChild(label);
      } else {
        atOrigin.push(i);
      }
      const t = svgEl("title", {});
      t.textContent = featureText(i);
      g.appendChild(t);
      svg.appendChild(g);
    }
    dirPlot.appendChild(svg);
    if (atOrigin.length) {
      const note = document.createElement("div");
      note.className = "iw-sp-caption iw-sp-origin";
      atOrigin.sort((a, b) => a - b);
      const where = model.get("projected") ? "Near the origin in this projection" : "At the origin";
      note.textContent = `${where}: feature${atOrigin.length > 1 ? "s" : ""} ${compactList(atOrigin)}.`;
      dirPlot.appendChild(note);
    }
  };

  /** (b) WᵀW on a canvas. */
  const paint = () => {
    if (!data || !data.wtw || !scale) return;
    const ctx = context2d(canvas);
    if (!ctx) return;
    const { n, wtw } = data;
    ctx.fillStyle = colors.bg;
    ctx.fillRect(0, 0, n * cell, n * cell);
    const gap = cell >= 6 ? 1 : 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        ctx.fillStyle = scale.color(wtw[i * n + j]);
        ctx.fillRect(j * cell, i * cell, cell - gap, cell - gap);
      }
    }
    if (hover) {
      ctx.strokeStyle = colors.fg;
      ctx.lineWidth = 1;
      ctx.strokeRect(hover[1] * cell + 0.5, hover[0] * cell + 0.5, cell - 1 - gap, cell - 1 - gap);
    }
  };

  const drawHeatmap = () => {
    heatLegend.replaceChildren();
    scale = null;
    if (!data || !data.wtw) {
      canvas.hidden = true;
      return;
    }
    canvas.hidden = false;
    const { n, wtw } = data;
    cell = Math.max(2, Math.min(40, Math.floor(HEAT / n)));
    const size = n * cell;
    sizeCanvas(canvas, size, size);
    canvas.dataset.rows = String(n);
    canvas.dataset.cols = String(n);
    canvas.setAttribute("aria-label", `WᵀW, ${n} × ${n}`);
    scale = makeScale({ kind: "diverging", domain: domainOf("diverging", wtw), background: colors.bg, foreground: colors.fg, dark: colors.dark });
    heatLegend.appendChild(renderLegend(scale, "Wᵢ·Wⱼ"));
    paint();
  };

  /** (c) Per-feature norm bars, coloured by superposition. */
  const drawBars = () => {
    barSec.querySelector("svg")?.remove();
    barSec.querySelector(".iw-empty")?.remove();
    if (!data || !data.norms) {
      const none = document.createElement("div");
      none.className = "iw-empty";
      none.textContent = "no norms";
      barSec.appendChild(none);
      return;
    }
    const { n, norms } = data;
    const rowH = Math.max(3, Math.min(20, Math.floor(HEAT / n)));
    const labW = 28;
    const valW = 42;
    const width = 230;
    const plotW = width - labW - valW;
    let max = 1;
    for (let i = 0; i < n; i++) max = Math.max(max, norms[i]);
    const height = n * rowH + 14;
    const svg = svgEl("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
    svg.setAttribute("aria-label", `norms of ${n} features`);
    const showText = rowH >= 11;
    for (let i = 0; i < n; i++) {
      const y = i * rowH;
      const w = Math.max(0, (norms[i] / max) * plotW);
      const color = superColor(data.sup ? data.sup[i] : 0, colors.fg, colors.dark);
      const bar = svgEl("rect", { class: isDropped(i) ? "iw-sp-bar iw-sp-dropped" : "iw-sp-bar", "data-feature": i, x: labW, y: y + 1, width: Math.max(0.5, w), height: Math.max(1, rowH - 2), fill: color });
      const t = svgEl("title", {});
      t.textContent = featureText(i);
      bar.appendChild(t);
      svg.appendChild(bar);
      if (showText) {
        const lab = svgEl("text", { x: labW - 6, y: y + rowH / 2, "text-anchor": "end", "dominant-baseline": "central" });
        lab.textContent = String(i);
        const val = svgEl("text", { x: labW + w + 4, y: y + rowH / 2, "dominant-baseline": "central" });
        val.textContent = formatShort(norms[i]);
        svg.append(lab, val);
      }
    }
    // Reference line at ‖W‖ = 1.
    const x1 = labW + plotW / max;
    svg.appendChild(svgEl("line", { class: "iw-sp-ref", x1, x2: x1, y1: 0, y2: n * rowH }));
    const one = svgEl("text", { x: x1, y: n * rowH + 11, "text-anchor": "middle" });
    one.textContent = "1";
    svg.appendChild(one);
    barSec.appendChild(svg);
  };

  const drawSuperLegend = () => {
    superLeg.replaceChildren();
    const l = document.createElement("span");
    l.textContent = "superposition";
    l.className = "iw-legend-label";
    const lo = document.createElement("span");
    lo.textContent = "0";
    const bar = document.createElement("span");
    bar.className = "iw-legend-bar";
    const stops = [0, 0.25, 0.5, 0.75, 1].map((t) => superColor(t, colors.fg, colors.dark));
    bar.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
    bar.title = "Σ_{j≠i} (Ŵᵢ·Wⱼ)²: 0 = a dimension of its own, ≥ 1 = shares its direction";
    const hi = document.createElement("span");
    hi.textContent = "≥1";
    const grey = document.createElement("span");
    grey.className = "iw-legend-label";
    grey.textContent = `grey: dropped (‖W‖ < ${DROPPED})`;
    superLeg.append(l, lo, bar, hi, grey);
  };

  const syncControls = () => {
    const interactive = !!model.get("interactive");
    const busy = !!model.get("busy");
    const s = Number(model.get("sparsity") ?? 0);
    sp.input.value = String(tFromSparsity(s));
    sp.value.textContent = `${format4(s)} (1−S = ${format4(1 - s)})`;
    const d = model.get("importance_decay");
    if (d === null || d === undefined) {
      imp.input.value = "1";
      imp.value.textContent = "custom";
    } else {
      imp.input.value = String(d);
      imp.value.textContent = `${format4(d)}ⁱ`;
    }
    sp.input.disabled = !interactive || busy;
    imp.input.disabled = !interactive || busy;
    hint.textContent = interactive ? "Release a slider to retrain." : "Static view: retraining needs Python.";
  };

  const syncBusy = () => {
    shell.syncBusy();
    syncControls();
  };

  const draw = () => {
    const resolved = shell.theme();
    root.dataset.interactive = String(!!model.get("interactive"));
    colors = { bg: resolved.background, fg: resolved.foreground, dark: resolved.dark };

    const problems: string[] = [];
    data = readData(problems);
    dataError.set(problems.length ? `Cannot show this model: ${problems.join("; ")}.` : "");

    const n = Number(model.get("n_features") ?? 0);
    const h = Number(model.get("n_hidden") ?? 0);
    shell.summary.replaceChildren();
    addPair("features", String(n));
    addPair("hidden", String(h));
    addPair("represented", `${model.get("n_represented") ?? 0} of ${n}`, "iw-sp-represented");
    addPair("loss", formatShort(Number(model.get("loss") ?? 0)));
    const secs = Number(model.get("train_seconds") ?? 0);
    if (secs > 0) addPair("trained in", `${secs.toFixed(1)} s`);

    const explained = model.get("explained") ?? [];
    if (model.get("projected")) {
      const pct = explained.length === 2 ? ` (${Math.round((explained[0] + explained[1]) * 100)}% of ‖W‖²)` : "";
      dirCaption.textContent = `Projection of the ${h}-dimensional hidden space on its top-2 principal directions${pct}. Dashed circle: ‖W‖ = 1.`;
    } else if (h === 1) {
      dirCaption.textContent = "One hidden dimension: features lie on a line. Dashed circle: ‖W‖ = 1.";
    } else {
      dirCaption.textContent = "Each arrow is a feature's direction Wᵢ in the 2-D hidden space. Dashed circle: ‖W‖ = 1.";
    }
    drawDirections();
    drawSuperLegend();
    drawHeatmap();
    drawBars();
    syncBusy();
  };

  // Sliders: labels follow while dragging, Python retrains on release.
  const onSparsityInput = () => {
    const s = sparsityFromT(Number(sp.input.value));
    sp.value.textContent = `${format4(s)} (1−S = ${format4(1 - s)})`;
  };
  const onSparsityChange = () => {
    if (!model.get("interactive") || model.get("busy")) return;
    const s = sparsityFromT(Number(sp.input.value));
    if (s === model.get("sparsity")) return;
    model.set("sparsity", s);
    model.save_changes();
  };
  const onImportanceInput = () => {
    imp.value.textContent = `${format4(Number(imp.input.value))}ⁱ`;
  };
  const onImportanceChange = () => {
    if (!model.get("interactive") || model.get("busy")) return;
    const d = Math.round(Number(imp.input.value) * 1000) / 1000;
    if (d === model.get("importance_decay")) return;
    model.set("importance_decay", d);
    model.save_changes();
  };
  shell.listen(sp.input, "input", onSparsityInput);
  shell.listen(sp.input, "change", onSparsityChange);
  shell.listen(imp.input, "input", onImportanceInput);
  shell.listen(imp.input, "change", onImportanceChange);

  // Heatmap hover.
  const cellAt = (ev: MouseEvent): [number, number] | null => {
    if (!data) return null;
    const r = canvas.getBoundingClientRect();
    const j = Math.floor((ev.clientX - r.left) / cell);
    const i = Math.floor((ev.clientY - r.top) / cell);
    if (i < 0 || j < 0 || i >= data.n || j >= data.n) return null;
    return [i, j];
  };
  const onMove = (ev: MouseEvent) => {
    const at = cellAt(ev);
    if (!at || !data || !data.wtw) {
      onLeave();
      return;
    }
    const [i, j] = at;
    if (!hover || hover[0] !== i || hover[1] !== j) {
      hover = at;
      paint();
    }
    const v = data.wtw[i * data.n + j];
    const line = document.createElement("div");
    line.textContent = i === j ? `‖W${i}‖² = ${format4(v)}` : `W${i}·W${j} = ${format4(v)}`;
    const r = canvas.getBoundingClientRect();
    const rr = root.getBoundingClientRect();
    tip.show([line], { left: r.left - rr.left + j * cell, bottom: r.top - rr.top + (i + 1) * cell });
  };
  const onLeave = () => {
    if (hover) {
      hover = null;
      paint();
    }
    tip.hide();
  };
  shell.listen(canvas, "mousemove", onMove);
  shell.listen(canvas, "mouseleave", onLeave);
  shell.cleanup(() => tip.remove());

  const redraw = coalesce(draw);
  shell.cleanup(redraw.cancel);
  for (const k of DATA_TRAITS) shell.on(`change:${k}`, redraw.schedule);
  shell.on("change:sparsity", syncControls);
  shell.on("change:importance_decay", syncControls);
  shell.on("change:busy", syncBusy);
  shell.on("change:progress", syncBusy);
  shell.watchTheme(draw);

  draw();
  return shell.dispose;
}

export default { render };
