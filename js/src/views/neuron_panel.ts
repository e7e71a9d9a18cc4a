/**
 * NeuronPanel: one MLP neuron. Its activations over the shown texts (heatmap rows), its
 * top-k activating contexts (max token highlighted), a histogram of its activations over
 * the corpus, and the tokens its output direction most promotes and suppresses.
 * Clicking a token of a text asks Python (`selected_token`) for the most active neurons
 * there (`neuron_list`); clicking one of those sets `layer` and `index`, and Python
 * recomputes the panel for that neuron.
 * Python: interp_widgets/views/neuron_panel.py (same trait names).
 */
import type { RenderProps } from "@anywidget/types";
import { decodeFinite, type ArrayPayload } from "../lib/codec";
import { format4, formatShort } from "../lib/format";
import { renderLegend } from "../lib/legend";
import { logitListCss, renderLogitList } from "../lib/logit_list";
import { createSection } from "../lib/section";
import { chooseKind, domainOf, makeScale, type ColorScale } from "../lib/scale";
import { coalesce } from "../lib/schedule";
import { createViewShell } from "../lib/shell";
import { setScaleCss, type ThemeOption } from "../lib/theme";
import { displayToken, renderTokens, tokenFromEvent } from "../lib/tokens";
import { attachTooltip } from "../lib/tooltip";

export interface ExampleInfo {
  max_pos: number;
  text_index: number;
  position: number;
  activation: number;
}

export interface NeuronItem {
  layer: number;
  index: number;
  activation: number;
}

export interface NeuronPanelModel {
  layer: number;
  index: number;
  model_name: string;
  n_layers: number;
  d_mlp: number;
  n_tokens: number;
  n_texts: number;
  text_tokens: string[][];
  text_acts: ArrayPayload | null;
  example_tokens: string[][];
  example_acts: ArrayPayload | null;
  example_info: ExampleInfo[];
  hist_counts: ArrayPayload | null;
  hist_edges: ArrayPayload | null;
  promoted_tokens: string[];
  promoted_values: ArrayPayload | null;
  suppressed_tokens: string[];
  suppressed_values: ArrayPayload | null;
  selected_token: number[];
  neuron_list: NeuronItem[];
  busy: boolean;
  progress: number;
  error: string;
  interactive: boolean;
  theme: ThemeOption;
}

const DATA_TRAITS = [
  "layer",
  "index",
  "model_name",
  "n_tokens",
  "n_texts",
  "text_tokens",
  "text_acts",
  "example_tokens",
  "example_acts",
  "example_info",
  "hist_counts",
  "hist_edges",
  "promoted_tokens",
  "promoted_values",
  "suppressed_tokens",
  "suppressed_values",
  "interactive",
  "theme",
] as const;

const CSS = `
.iw-neuron .iw-section { margin-top: 12px; }
.iw-neuron .iw-section-title { font-size: 12px; font-weight: 600; color: var(--iw-muted); margin-bottom: 4px;
  text-transform: uppercase; letter-spacing: 0.04em; }
.iw-neuron .iw-examples { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 3px 10px; align-items: start;
  max-height: 360px; overflow: auto; }
.iw-neuron .iw-example { display: contents; }
.iw-neuron .iw-example-value { font-family: var(--iw-mono); font-size: 12px; color: var(--iw-muted); text-align: right; padding-top: 3px; }
.iw-neuron .iw-token.iw-max { outline: 2px solid var(--iw-accent); outline-offset: 0; font-weight: 600; }
.iw-neuron[data-interactive="true"]:not([data-busy="true"]) .iw-text-row .iw-token { cursor: pointer; }
.iw-neuron[data-busy="true"] .iw-body { opacity: 0.6; cursor: progress; }
.iw-neuron .iw-bottom { display: flex; flex-wrap: wrap; gap: 16px 32px; align-items: flex-start; }
.iw-neuron .iw-hist svg { display: block; }
.iw-neuron .iw-hist rect.iw-bar { fill: var(--iw-accent); }
.iw-neuron .iw-hist line { stroke: var(--iw-border); }
.iw-neuron .iw-hist line.iw-zero { stroke: var(--iw-muted); stroke-dasharray: 2 2; }
.iw-neuron .iw-hist text { fill: var(--iw-muted); font-size: 10px; font-family: var(--iw-mono); }
.iw-neuron .iw-neurons[hidden] { display: none; }
.iw-neuron .iw-neuron-items { display: flex; flex-wrap: wrap; gap: 4px 6px; }
.iw-neuron .iw-neuron-item { font: inherit; font-family: var(--iw-mono); font-size: 12px; color: var(--iw-fg); background: var(--iw-panel);
  border: 1px solid var(--iw-border); border-radius: 4px; padding: 1px 6px; cursor: pointer; }
.iw-neuron .iw-neuron-item:hover:not(:disabled) { border-color: var(--iw-accent); }
.iw-neuron .iw-neuron-item.iw-current { border-color: var(--iw-accent); box-shadow: inset 0 0 0 1px var(--iw-accent); }
.iw-neuron .iw-neuron-item:disabled { cursor: progress; opacity: 0.6; }
.iw-neuron .iw-empty { color: var(--iw-muted); font-size: 12px; }
${logitListCss(".iw-neuron")}`;

const SVG = "http://www.w3.org/2000/svg";

function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** Histogram as SVG bars, log-scaled counts. */
export function renderHistogram(counts: ArrayLike<number>, edges: ArrayLike<number>, width = 340, height = 130): SVGSVGElement {
  const svg = svgEl("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  const n = counts.length;
  const padL = 4;
  const padB = 16;
  const plotW = width - 2 * padL;
  const plotH = height - padB - 4;
  const lo = edges[0];
  const hi = edges[n];
  const x = (v: number) => padL + ((v - lo) / (hi - lo || 1)) * plotW;
  let maxLog = 0;
  for (let i = 0; i < n; i++) maxLog = Math.max(maxLog, Math.log10(1 + counts[i]));
  let total = 0;
  for (let i = 0; i < n; i++) {
    total += counts[i];
    if (!counts[i]) continue;
    const h = (Math.log10(1 + counts[i]) / (maxLog || 1)) * plotH;
    const x0 = x(edges[i]);
    const bar = svgEl("rect", {
      class: "iw-bar",
      x: x0 + 0.5,
      y: 4 + plotH - h,
      width: Math.max(1, x(edges[i + 1]) - x0 - 1),
      height: Math.max(1, h),
    });
    const t = svgEl("title", {});
    t.textContent = `[${format4(edges[i])}, ${format4(edges[i + 1])}): ${counts[i]}`;
    bar.appendChild(t);
    svg.appendChild(bar);
  }
  svg.appendChild(svgEl("line", { x1: padL, x2: width - padL, y1: 4 + plotH + 0.5, y2: 4 + plotH + 0.5 }));
  if (lo < 0 && hi > 0) svg.appendChild(svgEl("line", { class: "iw-zero", x1: x(0), x2: x(0), y1: 4, y2: 4 + plotH }));
  const label = (v: number, anchor: string, at: number) => {
    const t = svgEl("text", { x: at, y: height - 3, "text-anchor": anchor });
    t.textContent = formatShort(v);
    svg.appendChild(t);
  };
  if (n > 0) {
    label(lo, "start", padL);
    label(hi, "end", width - padL);
    if (lo < 0 && hi > 0 && x(0) - padL > 30 && width - padL - x(0) > 30) label(0, "middle", x(0));
  }
  svg.setAttribute("aria-label", `histogram of ${total} activations (log count)`);
  return svg;
}

function render({ model, el }: Pick<RenderProps<NeuronPanelModel>, "model" | "el">): () => void {
  const shell = createViewShell(el, model, "iw-neuron", CSS);
  const { root, title, summary, dataError, addPair } = shell;
  const legendSlot = document.createElement("div");
  shell.header.append(legendSlot);
  const body = document.createElement("div");
  body.className = "iw-body-wrap";

  const textsSec = createSection("Activations", "iw-texts");
  const textsGrid = document.createElement("div");
  textsGrid.className = "iw-grid iw-body";
  const hint = document.createElement("div");
  hint.className = "iw-hint";
  hint.textContent = "Click a token to list the most active neurons there.";
  textsSec.append(textsGrid, hint);

  const neuronsSec = createSection("", "iw-neurons");
  const neuronsTitle = neuronsSec.firstChild as HTMLDivElement;
  const neuronItems = document.createElement("div");
  neuronItems.className = "iw-neuron-items";
  neuronsSec.appendChild(neuronItems);

  const examplesSec = createSection("Top activating contexts", "iw-top");
  const examplesEl = document.createElement("div");
  examplesEl.className = "iw-examples";
  examplesSec.appendChild(examplesEl);

  const bottom = document.createElement("div");
  bottom.className = "iw-bottom";
  const histSec = createSection("Activation histogram (log count)", "iw-hist");
  const logitSec = createSection("Direct logit effects", "iw-logit-effects");
  const logits = document.createElement("div");
  logits.className = "iw-logits";
  logitSec.appendChild(logits);
  bottom.append(histSec, logitSec);
  body.append(textsSec, neuronsSec, examplesSec, bottom);
  root.append(body);

  let textSpans: HTMLSpanElement[][] = [];
  let textOffsets: number[] = [];
  let textData: ArrayLike<number> | null = null;
  let exampleOffsets: number[] = [];
  let exampleData: ArrayLike<number> | null = null;

  const draw = () => {
    const resolved = shell.theme();
    const interactive = !!model.get("interactive");
    root.dataset.interactive = String(interactive);
    root.dataset.layer = String(model.get("layer"));
    root.dataset.index = String(model.get("index"));
    title.textContent = `Neuron L${model.get("layer")} / ${model.get("index")}`;
    summary.replaceChildren();
    if (model.get("model_name")) addPair("model", model.get("model_name"));
    addPair("corpus", `${model.get("n_texts") ?? 0} texts, ${model.get("n_tokens") ?? 0} tokens`);
    const info = model.get("example_info") ?? [];
    if (info.length) addPair("max", formatShort(info[0].activation));

    const problems: string[] = [];
    const texts = model.get("text_tokens") ?? [];
    const examples = model.get("example_tokens") ?? [];
    textData = decodeFinite(model.get("text_acts"), "text activations", problems);
    exampleData = decodeFinite(model.get("example_acts"), "example activations", problems);
    textOffsets = [];
    let off = 0;
    for (const row of texts) {
      textOffsets.push(off);
      off += row.length;
    }
    if (textData && textData.length !== off) {
      problems.push(`${off} text tokens but ${textData.length} activations`);
      textData = null;
    }
    exampleOffsets = [];
    off = 0;
    for (const row of examples) {
      exampleOffsets.push(off);
      off += row.length;
    }
    if (exampleData && exampleData.length !== off) {
      problems.push(`${off} example tokens but ${exampleData.length} activations`);
      exampleData = null;
    }
    dataError.set(problems.length ? `Cannot show this neuron: ${problems.join("; ")}.` : "");

    // One colour scale for the texts and the examples.
    const all: number[] = [];
    if (textData) for (let i = 0; i < textData.length; i++) all.push(textData[i]);
    if (exampleData) for (let i = 0; i < exampleData.length; i++) all.push(exampleData[i]);
    let scale: ColorScale | null = null;
    legendSlot.replaceChildren();
    if (all.length) {
      const kind = chooseKind("auto", all);
      scale = makeScale({ kind, domain: domainOf(kind, all), background: resolved.background, foreground: resolved.foreground, dark: resolved.dark });
      legendSlot.appendChild(renderLegend(scale, "activation"));
    }
    setScaleCss(root, scale);

    // Texts.
    textsGrid.replaceChildren();
    textSpans = [];
    texts.forEach((row, r) => {
      const lab = document.createElement("div");
      lab.className = "iw-row-label";
      lab.textContent = `text ${r}`;
      const line = document.createElement("div");
      line.className = "iw-tokens iw-text-row";
      line.dataset.row = String(r);
      const { fragment, spans } = renderTokens(row, { values: textData, offset: textOffsets[r], bin: scale?.bin });
      line.appendChild(fragment);
      textsGrid.append(lab, line);
      textSpans.push(spans);
    });
    textsSec.hidden = texts.length === 0;
    hint.hidden = !interactive;

    // Top-k contexts.
    examplesEl.replaceChildren();
    examples.forEach((row, e) => {
      const ex = document.createElement("div");
      ex.className = "iw-example";
      ex.dataset.example = String(e);
      const maxPos = info[e]?.max_pos ?? -1;
      const val = document.createElement("div");
      val.className = "iw-example-value";
      val.textContent = info[e] ? formatShort(info[e].activation) : "";
      val.title = info[e] ? `text ${info[e].text_index}, token ${info[e].position}` : "";
      const line = document.createElement("div");
      line.className = "iw-tokens";
      line.dataset.example = String(e);
      const { fragment } = renderTokens(row, {
        values: exampleData,
        offset: exampleOffsets[e],
        bin: scale?.bin,
        classes: (i) => (i === maxPos ? "iw-max" : ""),
      });
      line.appendChild(fragment);
      // A context reads as one line: newlines show as ↵ without breaking it.
      for (const br of line.querySelectorAll("br")) br.remove();
      ex.append(val, line);
      examplesEl.appendChild(ex);
    });
    if (!examples.length) {
      const none = document.createElement("div");
      none.className = "iw-empty";
      none.textContent = "no examples";
      examplesEl.appendChild(none);
    }

    // Histogram.
    histSec.querySelector("svg")?.remove();
    histSec.querySelector(".iw-empty")?.remove();
    const hp: string[] = [];
    const counts = decodeFinite(model.get("hist_counts"), "histogram counts", hp);
    const edges = decodeFinite(model.get("hist_edges"), "histogram edges", hp);
    if (counts && edges && counts.length > 0 && edges.length === counts.length + 1) {
      histSec.appendChild(renderHistogram(counts, edges));
    } else {
      const none = document.createElement("div");
      none.className = "iw-empty";
      none.textContent = hp.length ? hp.join("; ") : "no histogram";
      histSec.appendChild(none);
    }

    // Logit effects.
    logits.replaceChildren();
    const pt = model.get("promoted_tokens") ?? [];
    const st = model.get("suppressed_tokens") ?? [];
    if (pt.length || st.length) {
      const lp: string[] = [];
      logits.append(
        renderLogitList("promotes", "iw-pos", pt, decodeFinite(model.get("promoted_values"), "promoted values", lp)),
        renderLogitList("suppresses", "iw-neg", st, decodeFinite(model.get("suppressed_values"), "suppressed values", lp)),
      );
    } else {
      const none = document.createElement("div");
      none.className = "iw-empty";
      none.textContent = "no direct logit effects (an encoder has no unembedding; a result built by hand may have none)";
      logits.appendChild(none);
    }
    logitSec.hidden = false;

    drawNeurons();
    markSelected();
    syncBusy();
  };

  const drawNeurons = () => {
    const items = model.get("neuron_list") ?? [];
    const sel = model.get("selected_token") ?? [];
    neuronItems.replaceChildren();
    neuronsSec.hidden = items.length === 0;
    if (!items.length) return;
    const texts = model.get("text_tokens") ?? [];
    const tok = sel.length === 2 ? texts[sel[0]]?.[sel[1]] : undefined;
    neuronsTitle.textContent = tok !== undefined ? `Most active neurons at "${displayToken(tok)}" (text ${sel[0]}, token ${sel[1]})` : "Most active neurons";
    const layer = model.get("layer");
    const index = model.get("index");
    const busy = !!model.get("busy");
    for (const it of items) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "iw-neuron-item";
      if (it.layer === layer && it.index === index) b.classList.add("iw-current");
      b.dataset.layer = String(it.layer);
      b.dataset.index = String(it.index);
      b.textContent = `L${it.layer}/${it.index}  ${formatShort(it.activation)}`;
      b.title = `open neuron ${it.index} of layer ${it.layer}`;
      b.disabled = busy || !model.get("interactive");
      neuronItems.appendChild(b);
    }
  };

  let selected: HTMLElement | null = null;
  const markSelected = () => {
    selected?.classList.remove("iw-selected");
    selected = null;
    const sel = model.get("selected_token") ?? [];
    if (sel.length !== 2) return;
    const s = textSpans[sel[0]]?.[sel[1]];
    if (s) {
      s.classList.add("iw-selected");
      selected = s;
    }
  };

  const syncBusy = () => {
    const busy = shell.syncBusy();
    for (const b of neuronItems.querySelectorAll<HTMLButtonElement>("button")) b.disabled = busy || !model.get("interactive");
  };

  const onClick = (ev: Event) => {
    if (!model.get("interactive") || model.get("busy")) return;
    const t = ev.target as Element | null;
    const item = t?.closest?.(".iw-neuron-item") as HTMLElement | null;
    if (item && root.contains(item)) {
      const layer = Number(item.dataset.layer);
      const index = Number(item.dataset.index);
      if (layer === model.get("layer") && index === model.get("index")) return;
      model.set("layer", layer);
      model.set("index", index);
      model.save_changes();
      return;
    }
    const span = tokenFromEvent(ev, root);
    const line = span?.closest(".iw-text-row") as HTMLElement | null;
    if (!span || !line) return;
    const row = Number(line.dataset.row);
    const pos = Number(span.dataset.index);
    const sel = model.get("selected_token") ?? [];
    model.set("selected_token", sel.length === 2 && sel[0] === row && sel[1] === pos ? [] : [row, pos]);
    model.save_changes();
  };
  shell.listen(body, "click", onClick);

  shell.cleanup(attachTooltip(root, (span) => {
    const i = Number(span.dataset.index);
    const line = span.closest(".iw-tokens") as HTMLElement | null;
    if (!line) return null;
    if (line.dataset.row !== undefined) {
      const r = Number(line.dataset.row);
      return { token: String(model.get("text_tokens")?.[r]?.[i] ?? ""), index: i, value: span.dataset.value, row: `text ${r}` };
    }
    const e = Number(line.dataset.example);
    const inf = model.get("example_info")?.[e];
    const pos = inf ? inf.position - inf.max_pos + i : i;
    return {
      token: String(model.get("example_tokens")?.[e]?.[i] ?? ""),
      index: pos,
      value: span.dataset.value,
      row: inf ? `example ${e + 1} (text ${inf.text_index})` : undefined,
    };
  }));

  const redraw = coalesce(draw);
  const schedule = redraw.schedule;
  const onNeurons = () => {
    drawNeurons();
    markSelected();
  };
  shell.cleanup(redraw.cancel);
  for (const k of DATA_TRAITS) shell.on(`change:${k}`, schedule);
  shell.on("change:selected_token", onNeurons);
  shell.on("change:neuron_list", onNeurons);
  shell.on("change:busy", syncBusy);
  shell.on("change:progress", syncBusy);
  shell.watchTheme(draw);

  draw();
  return shell.dispose;
}

export default { render };
