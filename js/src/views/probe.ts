/**
 * ProbeView: linear probes on the residual stream. A chart of held-out accuracy per layer
 * (train accuracy as a second, dashed series; the chance rate as a line; the best layer
 * marked). Clicking a layer sets `selected_layer`; typing a text and pressing "Apply" sets
 * `text`; Python applies that layer's probe at every token and sends back `tokens` and
 * `predictions` [n, C], shown as a token heatmap: two classes on a diverging scale of
 * P(class 1) − 0.5, more classes coloured by the most likely class with opacity by its
 * probability. No maths here beyond choosing colours.
 * Python: interp_widgets/views/probe.py (same trait names).
 */
import type { RenderProps } from "@anywidget/types";
import { interpolateLab } from "d3-interpolate";
import { rgb } from "d3-color";
import { schemeTableau10 } from "d3-scale-chromatic";
import { decodeArray, decodeFinite, firstNonFinite, type ArrayPayload } from "../lib/codec";
import { createErrorBox } from "../lib/error";
import { format4, formatShort } from "../lib/format";
import { isDarkColor, makeScale } from "../lib/scale";
import { coalesce } from "../lib/schedule";
import { createViewShell } from "../lib/shell";
import { setScaleCss, type ThemeOption } from "../lib/theme";
import { renderTokens } from "../lib/tokens";
import { attachTooltip, createTooltip } from "../lib/tooltip";

export interface ProbeModel {
  layers: ArrayPayload | null;
  test_accuracy: ArrayPayload | null;
  train_accuracy: ArrayPayload | null;
  classes: string[];
  chance: number;
  best_layer: number;
  position: string;
  n_train: number;
  n_test: number;
  model_name: string;
  selected_layer: number;
  text: string;
  tokens: string[];
  predictions: ArrayPayload | null;
  busy: boolean;
  progress: number;
  error: string;
  interactive: boolean;
  theme: ThemeOption;
}

const CHART_TRAITS = ["layers", "test_accuracy", "train_accuracy", "chance", "best_layer", "selected_layer", "model_name",
  "position", "n_train", "n_test", "interactive", "theme"] as const;
const PRED_TRAITS = ["classes", "tokens", "predictions", "selected_layer", "interactive", "theme"] as const;

const CSS = `
.iw-probe .iw-section-title { font-size: 12px; font-weight: 600; color: var(--iw-muted); margin: 10px 0 4px;
  text-transform: uppercase; letter-spacing: 0.04em; }
.iw-probe svg.iw-probe-chart { display: block; overflow: visible; }
.iw-probe svg text { fill: var(--iw-muted); font-size: 10px; font-family: var(--iw-mono); }
.iw-probe svg text.iw-axis-label { font-family: var(--iw-ui); font-size: 11px; }
.iw-probe svg .iw-grid-line { stroke: var(--iw-border); stroke-width: 1; }
.iw-probe svg .iw-chance { stroke: var(--iw-muted); stroke-dasharray: 2 3; stroke-width: 1.2; }
.iw-probe svg .iw-test-line { fill: none; stroke: var(--iw-accent); stroke-width: 2; }
.iw-probe svg .iw-test-point { fill: var(--iw-accent); stroke: var(--iw-bg); stroke-width: 1; }
.iw-probe svg .iw-train-line { fill: none; stroke: var(--iw-muted); stroke-width: 1.5; stroke-dasharray: 5 3; }
.iw-probe svg .iw-train-point { fill: var(--iw-bg); stroke: var(--iw-muted); stroke-width: 1.5; }
.iw-probe svg .iw-best-ring { fill: none; stroke: var(--iw-accent); stroke-width: 1.5; }
.iw-probe svg text.iw-best-label { fill: var(--iw-accent); font-weight: 600; }
.iw-probe svg .iw-sel-band { fill: var(--iw-accent); opacity: 0.14; }
.iw-probe svg .iw-hit { fill: transparent; }
.iw-probe[data-interactive="true"]:not([data-busy="true"]) svg .iw-hit { cursor: pointer; }
.iw-probe svg .iw-hit:hover { fill: var(--iw-fg); opacity: 0.06; }
.iw-probe .iw-chart-legend { display: flex; gap: 14px; font-size: 11px; color: var(--iw-muted); margin: 2px 0 0 44px; align-items: center; }
.iw-probe .iw-swatch { display: inline-block; width: 18px; height: 0; vertical-align: middle; margin-right: 4px; border-top: 2px solid var(--iw-accent); }
.iw-probe .iw-swatch.iw-train { border-top: 2px dashed var(--iw-muted); }
.iw-probe .iw-swatch.iw-chance-sw { border-top: 2px dotted var(--iw-muted); }
.iw-probe .iw-probe-form { display: flex; gap: 6px; align-items: center; margin: 4px 0 8px; }
.iw-probe input.iw-probe-input { flex: 1 1 auto; max-width: 520px; font-family: var(--iw-mono); font-size: 12px; color: var(--iw-fg);
  background: var(--iw-bg); border: 1px solid var(--iw-border); border-radius: 4px; padding: 3px 6px; }
.iw-probe input.iw-probe-input:disabled { color: var(--iw-muted); background: var(--iw-panel); }
.iw-probe button.iw-probe-run { font: inherit; font-size: 12px; color: #ffffff; background: var(--iw-accent); border: 0;
  border-radius: 4px; padding: 4px 10px; cursor: pointer; }
.iw-probe button.iw-probe-run:disabled { background: var(--iw-panel); color: var(--iw-muted); cursor: default; border: 1px solid var(--iw-border); }
.iw-probe .iw-class-legend { display: inline-flex; align-items: center; gap: 6px; font-size: 11px; color: var(--iw-fg); flex-wrap: wrap; }
.iw-probe .iw-class-legend .iw-legend-bar { width: 140px; height: 10px; border-radius: 2px; border: 1px solid var(--iw-border); }
.iw-probe .iw-class-legend .iw-class-name { font-family: var(--iw-mono); font-weight: 600; }
.iw-probe .iw-class-legend .iw-legend-label { color: var(--iw-muted); }
.iw-probe .iw-class-legend .iw-class-chip { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 3px; vertical-align: -1px; }
.iw-probe .iw-pred-head { display: flex; flex-wrap: wrap; gap: 6px 16px; align-items: center; margin-bottom: 6px; }
.iw-probe .iw-last { font-size: 12px; color: var(--iw-muted); }
.iw-probe .iw-last b { color: var(--iw-fg); font-family: var(--iw-mono); }
.iw-probe .iw-empty { color: var(--iw-muted); font-size: 12px; }
.iw-probe[data-busy="true"] .iw-pred-body { opacity: 0.6; cursor: progress; }
`;

const SVG = "http://www.w3.org/2000/svg";

function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

export interface ChartData {
  layers: ArrayLike<number>;
  test: ArrayLike<number>;
  train: ArrayLike<number>;
  chance: number;
  best: number;
  selected: number;
}

/** Margins of the accuracy chart (the legend below lines up with the plot's left edge). */
const M = { left: 44, right: 58, top: 14, bottom: 34 };

/**
 * Accuracy per layer as an SVG line chart: one `circle.iw-test-point` and one
 * `circle.iw-train-point` per layer, a `line.iw-chance`, the best layer ringed, the
 * selected one shaded, and one `rect.iw-hit` column per layer (`data-index`, `data-layer`)
 * for hover and click.
 */
export function renderAccuracyChart(d: ChartData, width?: number, height = 210): SVGSVGElement {
  const n = d.layers.length;
  const W = width ?? Math.max(360, Math.min(780, M.left + M.right + 26 * n));
  const plotW = W - M.left - M.right;
  const plotH = height - M.top - M.bottom;
  const step = plotW / Math.max(1, n);
  const x = (i: number) => M.left + (i + 0.5) * step;
  const y = (v: number) => M.top + (1 - Math.max(0, Math.min(1, v))) * plotH;
  const svg = svgEl("svg", { class: "iw-probe-chart", width: W, height, viewBox: `0 0 ${W} ${height}`, role: "img" });
  svg.setAttribute("aria-label", `held-out and train accuracy of a probe at each of ${n} layers`);

  const selIdx = Array.from(d.layers).indexOf(d.selected);
  if (selIdx >= 0) {
    svg.appendChild(svgEl("rect", { class: "iw-sel-band", x: x(selIdx) - step / 2, y: M.top, width: step, height: plotH }));
  }
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    svg.appendChild(svgEl("line", { class: "iw-grid-line", x1: M.left, x2: W - M.right, y1: y(t), y2: y(t) }));
    const lab = svgEl("text", { x: M.left - 6, y: y(t) + 3, "text-anchor": "end" });
    lab.textContent = t.toFixed(2);
    svg.appendChild(lab);
  }
  // x ticks: every k-th layer so that labels do not collide; the best layer always.
  const k = Math.max(1, Math.ceil(22 / step));
  for (let i = 0; i < n; i++) {
    const isBest = d.layers[i] === d.best;
    if (i % k !== 0 && !isBest && i !== n - 1) continue;
    const lab = svgEl("text", { x: x(i), y: M.top + plotH + 13, "text-anchor": "middle" });
    lab.textContent = String(d.layers[i]);
    svg.appendChild(lab);
  }
  const xl = svgEl("text", { class: "iw-axis-label", x: M.left + plotW / 2, y: height - 4, "text-anchor": "middle" });
  xl.textContent = "layer (probe on resid_post)";
  const yl = svgEl("text", { class: "iw-axis-label", x: 0, y: 0, "text-anchor": "middle",
    transform: `translate(11 ${M.top + plotH / 2}) rotate(-90)` });
  yl.textContent = "accuracy";
  svg.append(xl, yl);

  if (Number.isFinite(d.chance)) {
    svg.appendChild(svgEl("line", { class: "iw-chance", x1: M.left, x2: W - M.right, y1: y(d.chance), y2: y(d.chance) }));
    const cl = svgEl("text", { x: W - M.right + 4, y: y(d.chance) + 3 });
    cl.textContent = `chance ${formatShort(d.chance)}`;
    svg.appendChild(cl);
  }
  const path = (vals: ArrayLike<number>) => {
    let s = "";
    for (let i = 0; i < n; i++) s += `${i ? "L" : "M"}${x(i).toFixed(1)},${y(vals[i]).toFixed(1)}`;
    return s;
  };
  if (n > 0) {
    svg.appendChild(svgEl("path", { class: "iw-train-line", d: path(d.train) }));
    svg.appendChild(svgEl("path", { class: "iw-test-line", d: path(d.test) }));
  }
  const r = n > 40 ? 2 : 3;
  for (let i = 0; i < n; i++) {
    svg.appendChild(svgEl("circle", { class: "iw-train-point", cx: x(i), cy: y(d.train[i]), r, "data-layer": d.layers[i] }));
  }
  for (let i = 0; i < n; i++) {
    svg.appendChild(svgEl("circle", { class: "iw-test-point", cx: x(i), cy: y(d.test[i]), r: r + 0.5, "data-layer": d.layers[i] }));
  }
  const bestIdx = Array.from(d.layers).indexOf(d.best);
  if (bestIdx >= 0) {
    svg.appendChild(svgEl("circle", { class: "iw-best-ring", cx: x(bestIdx), cy: y(d.test[bestIdx]), r: r + 4 }));
    const bl = svgEl("text", { class: "iw-best-label", x: x(bestIdx), y: Math.max(9, y(d.test[bestIdx]) - 9), "text-anchor": "middle" });
    bl.textContent = "best";
    svg.appendChild(bl);
  }
  for (let i = 0; i < n; i++) {
    svg.appendChild(svgEl("rect", { class: "iw-hit", x: x(i) - step / 2, y: M.top, width: step, height: plotH + 16,
      "data-index": i, "data-layer": d.layers[i] }));
  }
  return svg;
}

/** Categorical colours of the classes (Tableau 10), cycling past ten. */
export function classColor(c: number): string {
  return schemeTableau10[c % schemeTableau10.length];
}

/** Opacity bins of the many-class heatmap (class `iw-k<class * BINS + bin>`). */
const BINS = 10;

function multiClassCss(nClasses: number, background: string, foreground: string) {
  return {
    css(prefix: string): string {
      let out = "";
      for (let c = 0; c < nClasses; c++) {
        for (let b = 0; b <= BINS; b++) {
          const col = rgb(interpolateLab(background, classColor(c))(0.15 + 0.85 * (b / BINS))).formatHex();
          const near = b < 4;
          const txt = near ? foreground : isDarkColor(col) ? "#ffffff" : "#111111";
          out += `${prefix} .iw-k${c * (BINS + 1) + b}{background-color:${col};color:${txt}}\n`;
        }
      }
      return out;
    },
  };
}

function render({ model, el }: Pick<RenderProps<ProbeModel>, "model" | "el">): () => void {
  const shell = createViewShell(el, model, "iw-probe", CSS);
  const { root, title, dataError, addPair } = shell;

  const chartTitle = document.createElement("div");
  chartTitle.className = "iw-section-title";
  chartTitle.textContent = "Accuracy per layer";
  const chartSlot = document.createElement("div");
  chartSlot.className = "iw-chart";
  const chartLegend = document.createElement("div");
  chartLegend.className = "iw-chart-legend";
  const sw = (cls: string, label: string) => {
    const s = document.createElement("span");
    const line = document.createElement("span");
    line.className = `iw-swatch ${cls}`;
    s.append(line, document.createTextNode(label));
    return s;
  };
  chartLegend.append(sw("", "held-out"), sw("iw-train", "train"), sw("iw-chance-sw", "chance"));
  const chartHint = document.createElement("div");
  chartHint.className = "iw-hint";
  chartHint.textContent = "Click a layer to apply its probe to the text below.";

  const predTitle = document.createElement("div");
  predTitle.className = "iw-section-title";
  const form = document.createElement("form");
  form.className = "iw-probe-form";
  const input = document.createElement("input");
  input.type = "text";
  input.className = "iw-probe-input";
  input.spellcheck = false;
  input.setAttribute("aria-label", "text to apply the probe to");
  const run = document.createElement("button");
  run.type = "submit";
  run.className = "iw-probe-run";
  run.textContent = "Apply probe";
  form.append(input, run);
  const localError = createErrorBox();
  const predHead = document.createElement("div");
  predHead.className = "iw-pred-head";
  const legendSlot = document.createElement("div");
  const last = document.createElement("div");
  last.className = "iw-last";
  predHead.append(legendSlot, last);
  const predBody = document.createElement("div");
  predBody.className = "iw-tokens iw-pred-body iw-body";

  root.append(chartTitle, chartSlot, chartLegend, chartHint, predTitle, form, localError.el, predHead, predBody);
  const chartTip = createTooltip(root);

  let layers: ArrayLike<number> = [];
  let test: ArrayLike<number> = [];
  let train: ArrayLike<number> = [];
  let preds: ArrayLike<number> | null = null;

  const vector = (key: "layers" | "test_accuracy" | "train_accuracy", problems: string[]): ArrayLike<number> =>
    decodeFinite(model.get(key), key, problems) ?? [];

  let chartProblems: string[] = [];
  let predProblems: string[] = [];
  const showProblems = () => {
    const all = [...chartProblems, ...predProblems];
    dataError.set(all.length ? `Cannot show this probe: ${all.join("; ")}.` : "");
  };

  const drawChart = () => {
    root.dataset.iwTheme = model.get("theme") || "auto";
    root.dataset.interactive = String(!!model.get("interactive"));
    root.dataset.selectedLayer = String(model.get("selected_layer"));
    const problems: string[] = [];
    layers = vector("layers", problems);
    test = vector("test_accuracy", problems);
    train = vector("train_accuracy", problems);
    if (test.length !== layers.length || train.length !== layers.length) {
      problems.push(`${layers.length} layers but ${test.length} held-out and ${train.length} train accuracies`);
      layers = test = train = [];
    }
    chartProblems = problems;
    showProblems();
    const classes = model.get("classes") ?? [];
    title.textContent = `Linear probe: ${classes.join(" vs ")}`;
    shell.summary.replaceChildren();
    if (model.get("model_name")) addPair("model", model.get("model_name"));
    addPair("position", String(model.get("position") ?? ""));
    addPair("examples", `${model.get("n_train") ?? 0} train, ${model.get("n_test") ?? 0} held out`);
    const best = Number(model.get("best_layer"));
    const bi = Array.from(layers).indexOf(best);
    if (bi >= 0) addPair("best", `layer ${best} (held-out ${test[bi].toFixed(2)})`);
    chartSlot.replaceChildren();
    chartTip.hide();
    if (layers.length) {
      chartSlot.appendChild(renderAccuracyChart({ layers, test, train, chance: Number(model.get("chance")), best,
        selected: Number(model.get("selected_layer")) }));
    }
    chartHint.hidden = !model.get("interactive");
  };

  const drawPredictions = () => {
    const resolved = shell.theme();
    const interactive = !!model.get("interactive");
    root.dataset.interactive = String(interactive);
    const classes = model.get("classes") ?? [];
    const tokens = model.get("tokens") ?? [];
    const nC = classes.length;
    predTitle.textContent = `Probe of layer ${model.get("selected_layer")} at every token`;
    input.placeholder = interactive ? "Type a sentence, e.g. The cat counted to seven." : "needs Python (static view)";
    input.title = interactive ? "" : "Applying a probe needs the Python kernel";
    if (document.activeElement !== input) input.value = model.get("text") ?? "";
    syncBusy();

    const problems: string[] = [];
    preds = null;
    try {
      const a = decodeArray(model.get("predictions"));
      if (a && a.data.length) {
        if (a.shape.length !== 2 || a.shape[0] !== tokens.length || a.shape[1] !== nC) {
          problems.push(`predictions have shape [${a.shape.join(", ")}] for ${tokens.length} tokens and ${nC} classes`);
        } else if (firstNonFinite(a.data)) {
          problems.push("non-finite predictions");
        } else {
          preds = a.data;
        }
      }
    } catch (e) {
      problems.push(`predictions could not be read: ${(e as Error).message}`);
    }
    predProblems = problems;
    showProblems();

    legendSlot.replaceChildren();
    last.replaceChildren();
    predBody.replaceChildren();
    setScaleCss(root, null);
    if (!preds || !tokens.length || nC < 2) {
      const none = document.createElement("div");
      none.className = "iw-empty";
      none.textContent = interactive ? "Type a text and press Apply probe to see the probe's prediction at every token."
        : "No predictions were computed for this probe.";
      predBody.appendChild(none);
      return;
    }
    const P = preds;
    const legend = document.createElement("div");
    legend.className = "iw-class-legend iw-legend";
    let fragment: DocumentFragment;
    if (nC === 2) {
      const scale = makeScale({ kind: "diverging", domain: [-0.5, 0.5], background: resolved.background,
        foreground: resolved.foreground, dark: resolved.dark });
      setScaleCss(root, scale);
      const diff = new Float32Array(tokens.length);
      for (let i = 0; i < tokens.length; i++) diff[i] = P[i * 2 + 1] - 0.5;
      ({ fragment } = renderTokens(tokens, { values: diff, bin: scale.bin }));
      const c0 = document.createElement("span");
      c0.className = "iw-class-name";
      c0.textContent = classes[0];
      const bar = document.createElement("span");
      bar.className = "iw-legend-bar";
      bar.style.background = `linear-gradient(to right, ${scale.stops(15).join(", ")})`;
      bar.title = `colour: P(${classes[1]}) − 0.5 (left: ${classes[0]}, right: ${classes[1]})`;
      const c1 = document.createElement("span");
      c1.className = "iw-class-name";
      c1.textContent = classes[1];
      const cap = document.createElement("span");
      cap.className = "iw-legend-label";
      cap.textContent = `colour: P(${classes[1]}) from 0 to 1`;
      legend.append(c0, bar, c1, cap);
    } else {
      setScaleCss(root, multiClassCss(nC, resolved.background, resolved.foreground));
      const arg = new Int32Array(tokens.length);
      const bin = new Int32Array(tokens.length);
      for (let i = 0; i < tokens.length; i++) {
        let best = 0;
        for (let c = 1; c < nC; c++) if (P[i * nC + c] > P[i * nC + best]) best = c;
        arg[i] = best;
        // opacity from chance (1/C) to certain (1)
        const t = (P[i * nC + best] - 1 / nC) / (1 - 1 / nC);
        bin[i] = Math.max(0, Math.min(BINS, Math.round(t * BINS)));
      }
      ({ fragment } = renderTokens(tokens, { classes: (i) => `iw-k${arg[i] * (BINS + 1) + bin[i]}` }));
      const cap = document.createElement("span");
      cap.className = "iw-legend-label";
      cap.textContent = "most likely class (paler = less sure):";
      legend.appendChild(cap);
      classes.forEach((c, i) => {
        const item = document.createElement("span");
        const chip = document.createElement("span");
        chip.className = "iw-class-chip";
        chip.style.background = classColor(i);
        const name = document.createElement("span");
        name.className = "iw-class-name";
        name.textContent = c;
        item.append(chip, name);
        legend.appendChild(item);
      });
    }
    legendSlot.appendChild(legend);
    predBody.appendChild(fragment);
    // The last token's prediction (what a "last"-position probe was trained on).
    const n = tokens.length - 1;
    let bestC = 0;
    for (let c = 1; c < nC; c++) if (P[n * nC + c] > P[n * nC + bestC]) bestC = c;
    last.append(document.createTextNode("last token: "));
    const b = document.createElement("b");
    b.textContent = `${classes[bestC]} ${format4(P[n * nC + bestC])}`;
    last.appendChild(b);
  };

  const syncBusy = () => {
    const busy = shell.syncBusy();
    const interactive = !!model.get("interactive");
    input.disabled = !interactive || busy;
    run.disabled = !interactive || busy;
  };

  const onSubmit = (ev: Event) => {
    ev.preventDefault();
    if (!model.get("interactive") || model.get("busy")) return;
    const value = input.value;
    if (!value.trim()) {
      localError.set("Type some text to apply the probe to.");
      return;
    }
    localError.set("");
    model.set("text", value);
    model.save_changes();
  };
  shell.listen(form, "submit", onSubmit);

  const hitFromEvent = (ev: Event): SVGRectElement | null => {
    const t = ev.target as Element | null;
    const hit = t?.closest?.("rect.iw-hit") as SVGRectElement | null;
    return hit && chartSlot.contains(hit) ? hit : null;
  };
  const onChartClick = (ev: Event) => {
    const hit = hitFromEvent(ev);
    if (!hit || !model.get("interactive") || model.get("busy")) return;
    const layer = Number(hit.dataset.layer ?? hit.getAttribute("data-layer"));
    if (layer === model.get("selected_layer")) return;
    localError.set("");
    model.set("selected_layer", layer);
    model.save_changes();
  };
  const onChartMove = (ev: Event) => {
    const hit = hitFromEvent(ev);
    if (!hit) {
      chartTip.hide();
      return;
    }
    const i = Number(hit.getAttribute("data-index"));
    const line = (s: string) => {
      const d = document.createElement("div");
      d.textContent = s;
      return d;
    };
    const head = document.createElement("div");
    const strong = document.createElement("span");
    strong.className = "iw-tip-token";
    strong.textContent = `layer ${layers[i]}`;
    head.appendChild(strong);
    if (layers[i] === model.get("best_layer")) head.appendChild(document.createTextNode("  (best)"));
    const rows = [head, line(`held-out ${format4(test[i])}`), line(`train    ${format4(train[i])}`)];
    if (model.get("interactive") && layers[i] !== model.get("selected_layer")) rows.push(line("click to apply this probe"));
    const r = hit.getBoundingClientRect();
    const rr = root.getBoundingClientRect();
    chartTip.show(rows, { left: r.left - rr.left, bottom: r.bottom - rr.top });
  };
  const onChartLeave = () => chartTip.hide();
  shell.listen(chartSlot, "click", onChartClick);
  shell.listen(chartSlot, "mousemove", onChartMove);
  shell.listen(chartSlot, "mouseleave", onChartLeave);

  shell.cleanup(attachTooltip(root, (span) => {
    if (!predBody.contains(span) || !preds) return null;
    const i = Number(span.dataset.index);
    const classes = model.get("classes") ?? [];
    const nC = classes.length;
    const lines = classes.map((c, k) => `P(${c}) = ${format4(preds![i * nC + k])}`);
    return { token: String(model.get("tokens")?.[i] ?? ""), index: i, extra: lines.join("\n") };
  }));

  const chart = coalesce(drawChart);
  const predictions = coalesce(drawPredictions);
  shell.cleanup(chart.cancel);
  shell.cleanup(predictions.cancel);
  shell.cleanup(() => chartTip.remove());
  for (const k of CHART_TRAITS) shell.on(`change:${k}`, chart.schedule);
  for (const k of PRED_TRAITS) shell.on(`change:${k}`, predictions.schedule);
  shell.on("change:text", () => {
    if (document.activeElement !== input) input.value = model.get("text") ?? "";
  });
  shell.on("change:busy", syncBusy);
  shell.on("change:progress", syncBusy);
  shell.watchTheme(drawPredictions);

  drawChart();
  drawPredictions();
  return shell.dispose;
}

export default { render };
