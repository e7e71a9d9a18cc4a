/**
 * FeatureDashboard: the features of a sparse autoencoder over a corpus.
 *
 * Left: the feature list (virtualised: only the rows on screen are in the DOM, so 16k
 * features scroll smoothly), sortable by density / max activation (click a header), and
 * searchable by token (a feature matches when one of its top-activating tokens or of the
 * tokens its decoder promotes contains the text; `#12` or `12` finds feature 12).
 * Right: the open feature, sent by Python on demand when `selected_feature` changes: its
 * top activating contexts (max token outlined, tokens coloured by activation), the
 * histogram of its activations (log-spaced bins), the tokens its decoder direction
 * promotes / suppresses, its density and max.
 * Below: prompt mode. Python sends the prompt's tokens and each token's most active
 * features; clicking a token lists them, clicking one opens it.
 * Python: interp_widgets/views/feature_dashboard.py (same trait names).
 */
import type { RenderProps } from "@anywidget/types";
import { decodeArray, decodeFinite, type ArrayPayload } from "../lib/codec";
import { formatShort } from "../lib/format";
import { renderLegend } from "../lib/legend";
import { logitListCss, renderLogitList } from "../lib/logit_list";
import { createSection } from "../lib/section";
import { chooseKind, domainOf, makeScale, type ColorScale } from "../lib/scale";
import { coalesce } from "../lib/schedule";
import { createPair, createViewShell } from "../lib/shell";
import { resolveTheme, setScaleCss, type ThemeOption } from "../lib/theme";
import { displayToken, renderTokens, tokenFromEvent } from "../lib/tokens";
import { attachTooltip } from "../lib/tooltip";

export interface ExampleInfo {
  max_pos: number;
  text_index: number;
  position: number;
  activation: number;
}

export interface FeatureExamples {
  tokens: string[][];
  acts: ArrayPayload | null;
  info: ExampleInfo[];
  exact: boolean;
}

export interface FeatureLogits {
  promoted_tokens: string[];
  promoted_values: ArrayPayload | null;
  suppressed_tokens: string[];
  suppressed_values: ArrayPayload | null;
  available: boolean;
}

export interface FeatureStats {
  index?: number;
  density?: number;
  max?: number;
  mean?: number;
  count?: number;
}

export interface FeatureDashboardModel {
  model_name: string;
  hook_name: string;
  d_sae: number;
  n_tokens: number;
  n_texts: number;
  /** Tokens left out of the statistics as massive activations (optional for older states). */
  n_outliers?: number;
  density: ArrayPayload | null;
  max_act: ArrayPayload | null;
  search_ids: ArrayPayload | null;
  n_top_tokens: number;
  token_table: string[];
  sort_by: "max" | "density" | "index";
  sort_desc: boolean;
  search: string;
  selected_feature: number;
  feature_examples: FeatureExamples | null;
  feature_hist: { counts: ArrayPayload | null; edges: ArrayPayload | null } | null;
  feature_logits: FeatureLogits | null;
  feature_stats: FeatureStats;
  prompt: string;
  prompt_tokens: string[];
  prompt_features: { ids: ArrayPayload | null; acts: ArrayPayload | null } | null;
  prompt_feature_acts: ArrayPayload | null;
  selected_token: number;
  busy: boolean;
  progress: number;
  error: string;
  interactive: boolean;
  theme: ThemeOption;
}

/** Height of a list row in CSS pixels (the virtual list positions rows by it). */
export const ROW_HEIGHT = 22;
const OVERSCAN = 8;
const LIST_HEIGHT = 440;

const CSS = `
.iw-features .iw-fd-main { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.iw-features .iw-fl { flex: 0 0 330px; min-width: 0; display: flex; flex-direction: column; gap: 4px; }
.iw-features .iw-fd { flex: 1 1 420px; min-width: 0; }
.iw-features input.iw-search, .iw-features input.iw-prompt-input { font: inherit; font-size: 12px; color: var(--iw-fg);
  background: var(--iw-panel); border: 1px solid var(--iw-border); border-radius: 4px; padding: 3px 6px; box-sizing: border-box; }
.iw-features input.iw-search { width: 100%; }
.iw-features input:focus { outline: 2px solid var(--iw-accent); outline-offset: -1px; }
.iw-features .iw-fl-count { font-size: 11px; color: var(--iw-muted); }
.iw-features .iw-fl-head, .iw-features .iw-fl-row { display: grid; grid-template-columns: 52px minmax(0, 1fr) 70px 78px;
  gap: 6px; align-items: center; padding: 0 6px; }
.iw-features .iw-fl-head { font-size: 11px; color: var(--iw-muted); border-bottom: 1px solid var(--iw-border); padding-bottom: 2px; }
.iw-features .iw-fl-head button { font: inherit; color: inherit; background: none; border: 0; padding: 0; cursor: pointer; text-align: left; }
.iw-features .iw-fl-head button:hover { color: var(--iw-fg); }
.iw-features .iw-fl-head button.iw-active { color: var(--iw-accent); font-weight: 600; }
.iw-features .iw-fl-head .iw-num, .iw-features .iw-fl-row .iw-num { text-align: right; }
.iw-features .iw-fl-scroll { position: relative; height: ${LIST_HEIGHT}px; overflow-y: auto; border: 1px solid var(--iw-border); border-radius: 4px; }
.iw-features .iw-fl-rows { position: absolute; left: 0; right: 0; top: 0; }
.iw-features .iw-fl-row { height: ${ROW_HEIGHT}px; box-sizing: border-box; font-family: var(--iw-mono); font-size: 12px; cursor: pointer;
  border-bottom: 1px solid transparent; }
.iw-features[data-interactive="false"] .iw-fl-row { cursor: default; }
.iw-features .iw-fl-row:hover { background: var(--iw-panel); }
.iw-features .iw-fl-row.iw-current { background: var(--iw-panel); box-shadow: inset 3px 0 0 var(--iw-accent); }
.iw-features .iw-fl-row.iw-dead { opacity: 0.5; }
.iw-features .iw-fl-idx { color: var(--iw-muted); }
.iw-features .iw-fl-label { white-space: pre; overflow: hidden; text-overflow: ellipsis; }
.iw-features .iw-fl-max { position: relative; }
.iw-features .iw-fl-bar { position: absolute; left: 0; top: 3px; bottom: 3px; background: var(--iw-accent); opacity: 0.18; border-radius: 2px; }
.iw-features .iw-section { margin-top: 12px; }
.iw-features .iw-section-title { font-size: 12px; font-weight: 600; color: var(--iw-muted); margin-bottom: 4px;
  text-transform: uppercase; letter-spacing: 0.04em; }
.iw-features .iw-fd-title { font-weight: 600; font-size: 14px; }
.iw-features .iw-fd-stats { display: flex; flex-wrap: wrap; gap: 4px 14px; margin-top: 2px; }
.iw-features .iw-fd-stats .iw-k { color: var(--iw-muted); margin-right: 4px; }
.iw-features .iw-fd-stats .iw-v { font-family: var(--iw-mono); }
.iw-features .iw-examples { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 3px 10px; align-items: start;
  max-height: 320px; overflow: auto; }
.iw-features .iw-example { display: contents; }
.iw-features .iw-example-value { font-family: var(--iw-mono); font-size: 12px; color: var(--iw-muted); text-align: right; padding-top: 3px; }
.iw-features .iw-token.iw-max { outline: 2px solid var(--iw-accent); outline-offset: 0; font-weight: 600; }
.iw-features .iw-bottom { display: flex; flex-wrap: wrap; gap: 16px 32px; align-items: flex-start; }
.iw-features .iw-hist svg { display: block; }
.iw-features .iw-hist rect.iw-bar { fill: var(--iw-accent); }
.iw-features .iw-hist line { stroke: var(--iw-border); }
.iw-features .iw-hist text { fill: var(--iw-muted); font-size: 10px; font-family: var(--iw-mono); }
.iw-features .iw-empty, .iw-features .iw-note { color: var(--iw-muted); font-size: 12px; }
.iw-features .iw-note[hidden], .iw-features [hidden] { display: none; }
.iw-features .iw-prompt-row { display: flex; gap: 6px; align-items: center; }
.iw-features input.iw-prompt-input { flex: 1 1 auto; min-width: 0; }
.iw-features .iw-prompt-go { font: inherit; font-size: 12px; color: var(--iw-fg); background: var(--iw-panel);
  border: 1px solid var(--iw-border); border-radius: 4px; padding: 2px 10px; cursor: pointer; }
.iw-features .iw-prompt-go:disabled, .iw-features input:disabled { opacity: 0.6; cursor: not-allowed; }
.iw-features .iw-prompt-tokens { margin-top: 6px; }
.iw-features .iw-prompt-tokens .iw-token { cursor: pointer; }
.iw-features .iw-pf-items { display: flex; flex-wrap: wrap; gap: 4px 6px; margin-top: 4px; }
.iw-features .iw-pf-item { font: inherit; font-family: var(--iw-mono); font-size: 12px; color: var(--iw-fg); background: var(--iw-panel);
  border: 1px solid var(--iw-border); border-radius: 4px; padding: 1px 6px; cursor: pointer; white-space: pre; }
.iw-features .iw-pf-item:hover:not(:disabled) { border-color: var(--iw-accent); }
.iw-features .iw-pf-item.iw-current { border-color: var(--iw-accent); box-shadow: inset 0 0 0 1px var(--iw-accent); }
.iw-features .iw-pf-item:disabled { cursor: not-allowed; opacity: 0.6; }
.iw-features[data-busy="true"] .iw-fd, .iw-features[data-busy="true"] .iw-prompt-tokens { opacity: 0.6; cursor: progress; }
${logitListCss(".iw-features")}`;

/** Feature indices that pass the search, in list order (sorted by `key`). */
export function listOrder(opts: {
  n: number;
  density: ArrayLike<number> | null;
  maxAct: ArrayLike<number> | null;
  sortBy: string;
  desc: boolean;
  search: string;
  searchIds: ArrayLike<number> | null;
  width: number;
  table: readonly string[];
}): Int32Array {
  const { n, density, maxAct, sortBy, desc, searchIds, width, table } = opts;
  const q = opts.search.trim() === "" ? "" : opts.search.toLowerCase();
  let keep: number[] = [];
  if (!q) {
    keep = Array.from({ length: n }, (_, i) => i);
  } else {
    const hit = new Uint8Array(table.length);
    const qTrim = q.trim();
    for (let t = 0; t < table.length; t++) {
      const s = table[t].toLowerCase();
      if (s.includes(q) || (qTrim && s.includes(qTrim))) hit[t] = 1;
    }
    const num = /^#?(\d+)$/.exec(q.trim());
    const wanted = num ? Number(num[1]) : -1;
    for (let i = 0; i < n; i++) {
      let ok = i === wanted;
      if (!ok && searchIds) {
        for (let j = 0; j < width; j++) {
          const t = searchIds[i * width + j];
          if (t >= 0 && hit[t]) {
            ok = true;
            break;
          }
        }
      }
      if (ok) keep.push(i);
    }
  }
  const key = sortBy === "density" ? density : sortBy === "max" ? maxAct : null;
  const sign = desc ? -1 : 1;
  keep.sort((a, b) => {
    const d = key ? (key[a] - key[b]) * sign : (a - b) * sign;
    return d !== 0 ? d : a - b;
  });
  return Int32Array.from(keep);
}

const SVG = "http://www.w3.org/2000/svg";

function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** Histogram over log-spaced bins (equal widths on screen), trimmed to the non-empty range. */
export function renderLogHistogram(counts: ArrayLike<number>, edges: ArrayLike<number>, width = 340, height = 120): SVGSVGElement | null {
  let first = -1;
  let last = -1;
  let peak = 0;
  let total = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] > 0) {
      if (first < 0) first = i;
      last = i;
      peak = Math.max(peak, counts[i]);
      total += counts[i];
    }
  }
  if (first < 0) return null;
  const svg = svgEl("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  const padL = 4;
  const padB = 16;
  const plotW = width - 2 * padL;
  const plotH = height - padB - 4;
  const n = last - first + 1;
  const bw = plotW / n;
  for (let i = first; i <= last; i++) {
    if (!counts[i]) continue;
    const h = (counts[i] / peak) * plotH;
    const bar = svgEl("rect", { class: "iw-bar", x: padL + (i - first) * bw + 0.5, y: 4 + plotH - h, width: Math.max(1, bw - 1), height: Math.max(1, h) });
    bar.dataset.bin = String(i);
    const t = svgEl("title", {});
    t.textContent = `[${formatShort(edges[i])}, ${formatShort(edges[i + 1])}): ${counts[i]}`;
    bar.appendChild(t);
    svg.appendChild(bar);
  }
  svg.appendChild(svgEl("line", { x1: padL, x2: width - padL, y1: 4 + plotH + 0.5, y2: 4 + plotH + 0.5 }));
  const label = (v: number, anchor: string, at: number) => {
    const t = svgEl("text", { x: at, y: height - 3, "text-anchor": anchor });
    t.textContent = formatShort(v);
    svg.appendChild(t);
  };
  label(edges[first], "start", padL);
  label(edges[last + 1], "end", width - padL);
  const t = svgEl("text", { x: width / 2, y: height - 3, "text-anchor": "middle" });
  t.textContent = "activation (log scale)";
  svg.appendChild(t);
  svg.setAttribute("aria-label", `histogram of ${total} activations`);
  return svg;
}

function render({ model, el }: Pick<RenderProps<FeatureDashboardModel>, "model" | "el">): () => void {
  const shell = createViewShell(el, model, "iw-features", CSS);
  const { root, dataError, traitError, addPair } = shell;
  shell.title.textContent = "SAE features";

  const div = (cls: string, text?: string) => {
    const d = document.createElement("div");
    d.className = cls;
    if (text !== undefined) d.textContent = text;
    return d;
  };

  const staticNote = div("iw-note iw-static-note", "Static page: opening other features and prompt mode need Python; this page holds the open feature and the prompt below.");

  // The list.
  const list = div("iw-fl");
  const search = document.createElement("input");
  search.type = "search";
  search.className = "iw-search";
  search.placeholder = "search tokens (or #index)…";
  search.setAttribute("aria-label", "search features by token");
  const count = div("iw-fl-count");
  const head = div("iw-fl-head");
  const headCell = (label: string, sort: string | null, cls = "") => {
    if (!sort) {
      const s = document.createElement("span");
      s.textContent = label;
      s.className = cls;
      return s;
    }
    const b = document.createElement("button");
    b.type = "button";
    b.className = cls;
    b.dataset.sort = sort;
    b.textContent = label;
    b.title = `sort by ${sort}`;
    return b;
  };
  head.append(headCell("#", "index"), headCell("top token", null), headCell("density", "density", "iw-num"), headCell("max", "max", "iw-num"));
  const scroller = div("iw-fl-scroll");
  const spacer = div("iw-fl-spacer");
  const rows = div("iw-fl-rows");
  scroller.append(spacer, rows);
  list.append(search, count, head, scroller);

  // The open feature.
  const detail = div("iw-fd");
  const fdTitle = div("iw-fd-title", "No feature open");
  const fdStats = div("iw-fd-stats");
  const fdNote = div("iw-note iw-fd-note");
  const legendSlot = div("iw-legend-slot");
  const examplesSec = createSection("Top activating contexts", "iw-top");
  const examplesEl = div("iw-examples");
  examplesSec.appendChild(examplesEl);
  const bottom = div("iw-bottom");
  const histSec = createSection("Activation histogram", "iw-hist");
  const logitSec = createSection("Decoder logits", "iw-logit-effects");
  const logits = div("iw-logits");
  logitSec.appendChild(logits);
  bottom.append(histSec, logitSec);
  detail.append(fdTitle, fdStats, fdNote, legendSlot, examplesSec, bottom);

  const main = div("iw-fd-main");
  main.append(list, detail);

  // Prompt mode.
  const promptSec = createSection("Prompt: features on each token", "iw-prompt");
  const promptRow = div("iw-prompt-row");
  const promptInput = document.createElement("input");
  promptInput.type = "text";
  promptInput.className = "iw-prompt-input";
  promptInput.placeholder = "type a text and press Enter";
  promptInput.setAttribute("aria-label", "prompt text");
  const promptGo = document.createElement("button");
  promptGo.type = "button";
  promptGo.className = "iw-prompt-go";
  promptGo.textContent = "Show features";
  promptRow.append(promptInput, promptGo);
  const promptTokens = div("iw-tokens iw-prompt-tokens");
  const promptNote = div("iw-note iw-prompt-note");
  const pfTitle = div("iw-note iw-pf-title");
  const pfItems = div("iw-pf-items");
  promptSec.append(promptRow, promptTokens, promptNote, pfTitle, pfItems);

  root.append(staticNote, main, promptSec);

  // ---- list state ------------------------------------------------------------------
  let density: ArrayLike<number> | null = null;
  let maxAct: ArrayLike<number> | null = null;
  let searchIds: ArrayLike<number> | null = null;
  let width = 0;
  let order: Int32Array = new Int32Array(0);
  let globalMax = 0;

  const label = (i: number): string => {
    const table = model.get("token_table") ?? [];
    const t = searchIds && width ? searchIds[i * width] : -1;
    return t >= 0 && t < table.length ? table[t] : "";
  };

  const loadList = () => {
    const problems: string[] = [];
    const n = Number(model.get("d_sae") ?? 0);
    density = decodeFinite(model.get("density"), "densities", problems);
    maxAct = decodeFinite(model.get("max_act"), "max activations", problems);
    let ids: ArrayLike<number> | null = null;
    let w = 0;
    try {
      const arr = decodeArray(model.get("search_ids"));
      if (arr) {
        ids = arr.data;
        w = arr.shape.length === 2 ? arr.shape[1] : 0;
      }
    } catch (e) {
      problems.push(`search ids could not be read: ${(e as Error).message}`);
    }
    if (density && density.length !== n) {
      problems.push(`${n} features but ${density.length} densities`);
      density = null;
    }
    if (maxAct && maxAct.length !== n) {
      problems.push(`${n} features but ${maxAct.length} max activations`);
      maxAct = null;
    }
    if (ids && ids.length !== n * w) {
      problems.push(`search ids do not cover ${n} features`);
      ids = null;
    }
    searchIds = ids;
    width = ids ? w : 0;
    globalMax = 0;
    if (maxAct) for (let i = 0; i < maxAct.length; i++) globalMax = Math.max(globalMax, maxAct[i]);
    dataError.set(problems.length ? `Cannot show the features: ${problems.join("; ")}.` : "");
  };

  const sortList = () => {
    order = listOrder({
      n: density && maxAct ? Number(model.get("d_sae") ?? 0) : 0,
      density,
      maxAct,
      sortBy: model.get("sort_by") ?? "max",
      desc: model.get("sort_desc") ?? true,
      search: model.get("search") ?? "",
      searchIds,
      width,
      table: model.get("token_table") ?? [],
    });
    spacer.style.height = `${order.length * ROW_HEIGHT}px`;
    const n = Number(model.get("d_sae") ?? 0);
    count.textContent = order.length === n ? `${n} features` : `${order.length} of ${n} features`;
    const sortBy = model.get("sort_by");
    for (const b of head.querySelectorAll<HTMLButtonElement>("button")) {
      const on = b.dataset.sort === sortBy;
      b.classList.toggle("iw-active", on);
      const base = b.dataset.sort === "index" ? "#" : b.dataset.sort!;
      b.textContent = on ? `${base} ${model.get("sort_desc") ? "▼" : "▲"}` : base;
    }
    drawRows();
  };

  const drawRows = () => {
    const viewH = scroller.clientHeight || LIST_HEIGHT;
    const start = Math.max(0, Math.floor(scroller.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const end = Math.min(order.length, Math.ceil((scroller.scrollTop + viewH) / ROW_HEIGHT) + OVERSCAN);
    rows.style.top = `${start * ROW_HEIGHT}px`;
    const sel = model.get("selected_feature");
    const frag = document.createDocumentFragment();
    for (let r = start; r < end; r++) {
      const i = order[r];
      const row = div("iw-fl-row");
      row.dataset.feature = String(i);
      row.setAttribute("role", "button");
      if (i === sel) row.classList.add("iw-current");
      const d = density ? density[i] : 0;
      if (d === 0) row.classList.add("iw-dead");
      const idx = document.createElement("span");
      idx.className = "iw-fl-idx";
      idx.textContent = `#${i}`;
      const lab = document.createElement("span");
      lab.className = "iw-fl-label";
      const tok = label(i);
      lab.textContent = tok ? displayToken(tok) : "—";
      const dens = document.createElement("span");
      dens.className = "iw-fl-density iw-num";
      dens.textContent = d > 0 ? `${formatShort(d * 100)}%` : "dead";
      const mx = document.createElement("span");
      mx.className = "iw-fl-max iw-num";
      const m = maxAct ? maxAct[i] : 0;
      const bar = document.createElement("span");
      bar.className = "iw-fl-bar";
      // log scale: a few huge features (e.g. on a text's first token) would flatten the rest
      bar.style.width = `${globalMax > 0 && m > 0 ? Math.round((Math.log1p(m) / Math.log1p(globalMax)) * 100) : 0}%`;
      const mv = document.createElement("span");
      mv.style.position = "relative";
      mv.textContent = formatShort(m);
      mx.append(bar, mv);
      row.append(idx, lab, dens, mx);
      frag.appendChild(row);
    }
    rows.replaceChildren(frag);
  };

  const scrollToSelected = () => {
    const sel = model.get("selected_feature");
    if (sel < 0) return;
    const r = order.indexOf(sel);
    if (r < 0) return;
    const viewH = scroller.clientHeight || LIST_HEIGHT;
    const top = r * ROW_HEIGHT;
    if (top < scroller.scrollTop || top + ROW_HEIGHT > scroller.scrollTop + viewH) {
      scroller.scrollTop = Math.max(0, top - viewH / 2);
    }
  };

  // ---- the open feature ------------------------------------------------------------
  const addStat = (k: string, v: string) => fdStats.appendChild(createPair(k, v));

  let exampleOffsets: number[] = [];
  let exampleData: ArrayLike<number> | null = null;
  let scale: ColorScale | null = null;

  const drawFeature = () => {
    const sel = model.get("selected_feature");
    const stats = model.get("feature_stats") ?? {};
    const ex = model.get("feature_examples");
    const open = sel >= 0 && stats.index === sel;
    root.dataset.feature = String(sel);
    fdStats.replaceChildren();
    examplesEl.replaceChildren();
    logits.replaceChildren();
    legendSlot.replaceChildren();
    histSec.querySelector("svg")?.remove();
    histSec.querySelector(".iw-empty")?.remove();
    const problems: string[] = [];
    if (!open) {
      fdTitle.textContent = sel >= 0 ? `Feature #${sel}` : "No feature open";
      fdNote.textContent = sel >= 0 ? "loading…" : "Click a feature in the list (or a token's feature below) to open it.";
      fdNote.hidden = false;
      examplesSec.hidden = bottom.hidden = true;
      scale = null;
      setScaleCss(root, null);
      return;
    }
    examplesSec.hidden = bottom.hidden = false;
    const tok = label(sel);
    fdTitle.textContent = `Feature #${sel}${tok ? `  ·  top token "${displayToken(tok)}"` : ""}`;
    addStat("density", stats.density ? `${formatShort(stats.density * 100)}%` : "0 (dead)");
    addStat("max", formatShort(stats.max ?? 0));
    addStat("mean when active", formatShort(stats.mean ?? 0));
    addStat("active tokens", String(stats.count ?? 0));
    fdNote.hidden = !(ex && ex.exact === false);
    fdNote.textContent = ex && ex.exact === false ? "No model attached: only the max token's activation of each context is known." : "";

    // Examples.
    const tokens = ex?.tokens ?? [];
    const info = ex?.info ?? [];
    exampleData = decodeFinite(ex?.acts, "example activations", problems);
    exampleOffsets = [];
    let off = 0;
    for (const row of tokens) {
      exampleOffsets.push(off);
      off += row.length;
    }
    if (exampleData && exampleData.length !== off) {
      problems.push(`${off} example tokens but ${exampleData.length} activations`);
      exampleData = null;
    }
    const resolved = shell.theme();
    scale = null;
    if (exampleData && exampleData.length) {
      const kind = chooseKind("auto", exampleData);
      scale = makeScale({ kind, domain: domainOf(kind, exampleData), background: resolved.background, foreground: resolved.foreground, dark: resolved.dark });
      legendSlot.appendChild(renderLegend(scale, "activation"));
    }
    setScaleCss(root, scale);
    tokens.forEach((row, e) => {
      const item = div("iw-example");
      item.dataset.example = String(e);
      const maxPos = info[e]?.max_pos ?? -1;
      const val = div("iw-example-value", info[e] ? formatShort(info[e].activation) : "");
      val.title = info[e] ? `text ${info[e].text_index}, token ${info[e].position}` : "";
      const line = div("iw-tokens iw-example-line");
      line.dataset.example = String(e);
      const { fragment } = renderTokens(row, { values: exampleData, offset: exampleOffsets[e], bin: scale?.bin, classes: (i) => (i === maxPos ? "iw-max" : "") });
      line.appendChild(fragment);
      for (const br of line.querySelectorAll("br")) br.remove();
      item.append(val, line);
      examplesEl.appendChild(item);
    });
    if (!tokens.length) examplesEl.appendChild(div("iw-empty", "never active on this corpus"));

    // Histogram.
    const hist = model.get("feature_hist");
    const counts = decodeFinite(hist?.counts, "histogram counts", problems);
    const edges = decodeFinite(hist?.edges, "histogram edges", problems);
    const svg = counts && edges && edges.length === counts.length + 1 ? renderLogHistogram(counts, edges) : null;
    histSec.appendChild(svg ?? div("iw-empty", "no activations"));

    // Logits.
    const lg = model.get("feature_logits");
    const pt = lg?.promoted_tokens ?? [];
    const st = lg?.suppressed_tokens ?? [];
    if (pt.length || st.length) {
      logits.append(
        renderLogitList("promotes", "iw-pos", pt, decodeFinite(lg?.promoted_values, "promoted values", problems)),
        renderLogitList("suppresses", "iw-neg", st, decodeFinite(lg?.suppressed_values, "suppressed values", problems)),
      );
    } else {
      logits.appendChild(div("iw-empty", lg && lg.available === false ? "needs the model (not attached)" : "no unembedding for this hook point"));
    }
    if (problems.length) dataError.set(`Cannot show feature #${sel}: ${problems.join("; ")}.`);
  };

  // ---- prompt mode -----------------------------------------------------------------
  let promptIds: ArrayLike<number> | null = null;
  let promptActs: ArrayLike<number> | null = null;
  let promptWidth = 0;
  let promptSpans: HTMLSpanElement[] = [];
  let promptByFeature = false;

  const drawPrompt = () => {
    const toks = model.get("prompt_tokens") ?? [];
    const pf = model.get("prompt_features");
    const problems: string[] = [];
    promptIds = null;
    promptActs = null;
    promptWidth = 0;
    try {
      const ids = decodeArray(pf?.ids);
      if (ids && ids.shape.length === 2 && ids.shape[0] === toks.length) {
        promptIds = ids.data;
        promptWidth = ids.shape[1];
      }
    } catch (e) {
      problems.push(`prompt features could not be read: ${(e as Error).message}`);
    }
    promptActs = decodeFinite(pf?.acts, "prompt activations", problems);
    if (promptActs && promptActs.length !== toks.length * promptWidth) promptActs = null;
    // Colour each token by the open feature (the contexts' scale), else by its strongest feature.
    let values: ArrayLike<number> | null = null;
    const own = decodeFinite(model.get("prompt_feature_acts"), "prompt feature activations", problems);
    promptByFeature = !!(own && own.length === toks.length && scale);
    let pscale: ColorScale | null = scale;
    if (promptByFeature) {
      values = own;
    } else if (promptActs) {
      const best = new Float32Array(toks.length);
      for (let t = 0; t < toks.length; t++) best[t] = promptActs[t * promptWidth] ?? 0;
      values = best;
      if (!pscale && toks.length) {
        const resolved = resolveTheme(root, (model.get("theme") || "auto") as ThemeOption);
        pscale = makeScale({ kind: "sequential", domain: domainOf("sequential", best), background: resolved.background, foreground: resolved.foreground, dark: resolved.dark });
        setScaleCss(root, pscale);
      }
    }
    promptTokens.dataset.colour = promptByFeature ? "feature" : "strongest";
    promptNote.textContent = !toks.length
      ? ""
      : promptByFeature
        ? `Coloured by feature #${model.get("selected_feature")} (same scale as its contexts).`
        : "Coloured by each token's strongest feature.";
    promptTokens.replaceChildren();
    const { fragment, spans } = renderTokens(toks, { values, bin: pscale?.bin });
    promptTokens.appendChild(fragment);
    promptSpans = spans;
    if (document.activeElement !== promptInput) promptInput.value = model.get("prompt") ?? "";
    if (problems.length) dataError.set(problems.join("; "));
    drawPromptFeatures();
  };

  const drawPromptFeatures = () => {
    const toks = model.get("prompt_tokens") ?? [];
    const t = model.get("selected_token");
    for (const s of promptSpans) s.classList.remove("iw-selected");
    pfItems.replaceChildren();
    if (!toks.length) {
      pfTitle.textContent = model.get("interactive") ? "" : "Prompt mode needs Python (static page).";
      pfTitle.hidden = !pfTitle.textContent;
      return;
    }
    pfTitle.hidden = false;
    if (t < 0 || t >= toks.length) {
      pfTitle.textContent = "Click a token to list its most active features.";
      return;
    }
    promptSpans[t]?.classList.add("iw-selected");
    const sel = model.get("selected_feature");
    const items: HTMLButtonElement[] = [];
    for (let j = 0; j < promptWidth; j++) {
      const f = promptIds ? promptIds[t * promptWidth + j] : -1;
      if (f < 0) continue;
      const v = promptActs ? promptActs[t * promptWidth + j] : 0;
      const b = document.createElement("button");
      b.type = "button";
      b.className = "iw-pf-item";
      b.dataset.feature = String(f);
      b.dataset.value = String(v);
      const lab = label(f);
      b.textContent = `#${f}  ${formatShort(v)}${lab ? `  ${displayToken(lab)}` : ""}`;
      if (f === sel) b.classList.add("iw-current");
      b.title = `open feature ${f}`;
      b.disabled = !!model.get("busy") || (!model.get("interactive") && f !== sel);
      items.push(b);
    }
    pfTitle.textContent = items.length
      ? `Most active features at "${displayToken(toks[t])}" (token ${t}):`
      : `No feature is active at "${displayToken(toks[t])}" (token ${t}).`;
    pfItems.append(...items);
  };

  // ---- sync --------------------------------------------------------------------------
  const drawHeader = () => {
    root.dataset.iwTheme = model.get("theme") || "auto";
    const interactive = !!model.get("interactive");
    root.dataset.interactive = String(interactive);
    staticNote.hidden = interactive;
    promptInput.disabled = promptGo.disabled = !interactive;
    shell.summary.replaceChildren();
    if (model.get("model_name")) addPair("model", model.get("model_name"));
    if (model.get("hook_name")) addPair("hook", model.get("hook_name"));
    addPair("features", String(model.get("d_sae") ?? 0));
    addPair("corpus", `${model.get("n_texts") ?? 0} texts, ${model.get("n_tokens") ?? 0} tokens`);
    const outliers = Number(model.get("n_outliers") ?? 0);
    if (outliers > 0) {
      addPair("left out", `${outliers} massive-activation tokens`).title =
        "tokens whose residual norm is far above the corpus median (attention-sink-like whitespace tokens); " +
        "their huge feature values would top every list (iw.sae_features(outlier_factor=...))";
    }
    if (document.activeElement !== search) search.value = model.get("search") ?? "";
  };

  const syncBusy = () => {
    shell.syncBusy();
    drawPromptFeatures();
  };

  const drawAll = () => {
    drawHeader();
    loadList();
    sortList();
    drawFeature();
    drawPrompt();
    syncBusy();
  };
  const listRedraw = coalesce(() => {
    drawHeader();
    loadList();
    sortList();
  });
  const featureRedraw = coalesce(() => {
    drawFeature();
    drawRows();
    drawPrompt();
    scrollToSelected();
  });
  const promptRedraw = coalesce(drawPrompt);
  const sortRedraw = coalesce(() => {
    drawHeader();
    sortList();
  });

  // ---- events --------------------------------------------------------------------------
  const openFeature = (f: number) => {
    if (f === model.get("selected_feature") || model.get("busy")) return;
    if (!model.get("interactive")) {
      traitError.set("Opening another feature needs Python: this is a static page (only the open feature is included).");
      return;
    }
    model.set("selected_feature", f);
    model.save_changes();
  };

  const onListClick = (ev: Event) => {
    const t = ev.target as Element | null;
    const b = t?.closest?.("button[data-sort]") as HTMLButtonElement | null;
    if (b) {
      const key = b.dataset.sort!;
      if (model.get("sort_by") === key) model.set("sort_desc", !model.get("sort_desc"));
      else {
        model.set("sort_by", key as FeatureDashboardModel["sort_by"]);
        model.set("sort_desc", key !== "index");
      }
      model.save_changes();
      return;
    }
    const row = t?.closest?.(".iw-fl-row") as HTMLElement | null;
    if (row && root.contains(row)) openFeature(Number(row.dataset.feature));
  };
  shell.listen(list, "click", onListClick);

  let searchTimer: ReturnType<typeof setTimeout> | undefined;
  const onSearch = () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      model.set("search", search.value);
      model.save_changes();
      scroller.scrollTop = 0;
    }, 120);
  };
  shell.listen(search, "input", onSearch);
  shell.cleanup(() => clearTimeout(searchTimer));
  const onScroll = () => drawRows();
  shell.listen(scroller, "scroll", onScroll);

  const submitPrompt = () => {
    if (!model.get("interactive") || model.get("busy")) return;
    model.set("prompt", promptInput.value);
    model.save_changes();
  };
  const onPromptKey = (ev: KeyboardEvent) => {
    if (ev.key === "Enter") submitPrompt();
  };
  shell.listen(promptInput, "keydown", onPromptKey);
  shell.listen(promptGo, "click", submitPrompt);

  const onPromptClick = (ev: Event) => {
    const t = ev.target as Element | null;
    const item = t?.closest?.(".iw-pf-item") as HTMLButtonElement | null;
    if (item && !item.disabled) {
      openFeature(Number(item.dataset.feature));
      return;
    }
    const span = tokenFromEvent(ev, promptTokens);
    if (!span) return;
    const i = Number(span.dataset.index);
    model.set("selected_token", model.get("selected_token") === i ? -1 : i);
    model.save_changes();
  };
  shell.listen(promptSec, "click", onPromptClick);

  shell.cleanup(attachTooltip(root, (span) => {
    const i = Number(span.dataset.index);
    const line = span.closest(".iw-tokens") as HTMLElement | null;
    if (!line) return null;
    if (line.classList.contains("iw-prompt-tokens")) {
      const lab = promptIds && promptWidth ? promptIds[i * promptWidth] : -1;
      const strongest = lab >= 0 ? `strongest feature #${lab}` : "no active feature";
      return {
        token: String(model.get("prompt_tokens")?.[i] ?? ""),
        index: i,
        value: span.dataset.value,
        row: promptByFeature ? `feature #${model.get("selected_feature")}` : undefined,
        extra: strongest,
      };
    }
    const e = Number(line.dataset.example);
    const inf = model.get("feature_examples")?.info?.[e];
    return {
      token: String(model.get("feature_examples")?.tokens?.[e]?.[i] ?? ""),
      index: inf ? inf.position - inf.max_pos + i : i,
      value: span.dataset.value,
      row: inf ? `context ${e + 1} (text ${inf.text_index})` : undefined,
    };
  }));

  for (const r of [listRedraw, featureRedraw, promptRedraw, sortRedraw]) shell.cleanup(r.cancel);
  const on = (keys: string[], fn: () => void) => {
    for (const k of keys) shell.on(`change:${k}`, fn);
  };
  on(["d_sae", "density", "max_act", "search_ids", "token_table", "model_name", "hook_name", "n_tokens", "n_texts", "n_outliers", "interactive"], listRedraw.schedule);
  on(["sort_by", "sort_desc", "search"], sortRedraw.schedule);
  on(["selected_feature", "feature_examples", "feature_hist", "feature_logits", "feature_stats", "theme"], featureRedraw.schedule);
  on(["prompt", "prompt_tokens", "prompt_features", "prompt_feature_acts", "theme"], promptRedraw.schedule);
  shell.on("change:selected_token", drawPromptFeatures);
  shell.on("change:busy", syncBusy);
  shell.on("change:progress", syncBusy);
  shell.watchTheme(() => {
    drawFeature();
    drawPrompt();
  });

  drawAll();
  scrollToSelected();
  return shell.dispose;
}

export default { render };
