/**
 * AttributionWidget: input tokens coloured by their attribution to a target token.
 * Clicking a continuation token asks Python (through `target_position`) to explain that
 * token instead; the method selector does the same through `method`.
 * Python: interp_widgets/views/attribution.py (same trait names).
 */
import type { RenderProps } from "@anywidget/types";
import { asMatrix, decodeArray, firstNonFinite, type ArrayPayload } from "../lib/codec";
import { formatShort } from "../lib/format";
import { renderLegend } from "../lib/legend";
import { chooseKind, domainOf, makeScale } from "../lib/scale";
import { coalesce } from "../lib/schedule";
import { createViewShell } from "../lib/shell";
import { setScaleCss, type ThemeOption } from "../lib/theme";
import { renderTokens, tokenFromEvent } from "../lib/tokens";
import { attachTooltip } from "../lib/tooltip";

export interface AttributionModel {
  tokens: string[];
  scores: ArrayPayload | null;
  row_labels: string[];
  prompt_len: number;
  target_position: number;
  /** Linked selection (highlight only); optional for older states. */
  selected_token?: number;
  target_positions: number[];
  target_label: string;
  /** False for encoders: every token is an input, the target's own too. Optional for older states. */
  causal?: boolean;
  /** Any token can be clicked to explain the prediction at it (masked LMs). */
  pick_any?: boolean;
  method: string;
  methods: string[];
  delta: number | number[] | null;
  n_evals: number;
  busy: boolean;
  progress: number;
  error: string;
  interactive: boolean;
  theme: ThemeOption;
}

const DATA_TRAITS = [
  "tokens",
  "scores",
  "row_labels",
  "prompt_len",
  "target_position",
  "target_positions",
  "target_label",
  "causal",
  "pick_any",
  "method",
  "methods",
  "delta",
  "n_evals",
  "interactive",
  "theme",
] as const;

const METHOD_NAMES: Record<string, string> = {
  integrated_gradients: "integrated gradients",
  input_x_gradient: "input × gradient",
  saliency: "saliency",
  occlusion: "occlusion",
};

function render({ model, el }: Pick<RenderProps<AttributionModel>, "model" | "el">): () => void {
  const shell = createViewShell(el, model, "iw-attribution");
  const { root, summary, dataError, addPair } = shell;
  const select = document.createElement("select");
  select.className = "iw-method";
  select.setAttribute("aria-label", "attribution method");
  const rowSelect = document.createElement("select");
  rowSelect.className = "iw-row-select";
  rowSelect.setAttribute("aria-label", "target");
  const legendSlot = document.createElement("div");
  const body = document.createElement("div");
  body.className = "iw-body";
  const tokensEl = document.createElement("div");
  tokensEl.className = "iw-tokens";
  body.appendChild(tokensEl);
  const hint = document.createElement("div");
  hint.className = "iw-hint";
  shell.header.replaceChildren(select, rowSelect, summary, legendSlot);
  root.append(body, hint);

  let row = 0; // which target (row of scores) is shown; local to this view
  let nRows = 1;
  let rowData: ArrayLike<number> | null = null;
  let rowOffset = 0;

  const currentTarget = (): number => {
    const tps = model.get("target_positions") ?? [];
    if (nRows > 1 && typeof tps[row] === "number") return tps[row];
    const tp = model.get("target_position");
    return typeof tp === "number" ? tp : -1;
  };

  const draw = () => {
    const resolved = shell.theme();
    const tokens = model.get("tokens") ?? [];
    const promptLen = Number(model.get("prompt_len") ?? tokens.length);
    const method = model.get("method") ?? "";
    const methods = model.get("methods") ?? [];
    const interactive = !!model.get("interactive");
    const labels = model.get("row_labels") ?? [];
    root.dataset.method = method;
    root.dataset.targetPosition = String(model.get("target_position"));
    root.dataset.interactive = String(interactive);

    // Method selector: only useful when Python can recompute.
    select.replaceChildren();
    const opts = methods.length ? methods : method ? [method] : [];
    for (const m of opts) {
      const o = document.createElement("option");
      o.value = m;
      o.textContent = METHOD_NAMES[m] ?? m;
      select.appendChild(o);
    }
    select.value = method;
    select.hidden = !interactive || opts.length < 2;
    select.disabled = !interactive || !!model.get("busy");

    // Data.
    const problems: string[] = [];
    let matrix: { rows: number; cols: number; data: ArrayLike<number> } | null = null;
    try {
      const arr = decodeArray(model.get("scores"));
      if (arr) matrix = asMatrix(arr);
    } catch (e) {
      problems.push(`scores could not be read: ${(e as Error).message}`);
    }
    if (tokens.length === 0) problems.push("no tokens to show");
    if (matrix && matrix.cols !== tokens.length) {
      problems.push(`${tokens.length} tokens but scores have ${matrix.cols} columns`);
      matrix = null;
    }
    if (matrix) {
      const bad = firstNonFinite(matrix.data);
      if (bad) {
        problems.push(`${bad.count} non-finite score(s) (NaN/inf); first at token ${bad.index % matrix.cols}`);
        matrix = null;
      }
    }
    dataError.set(problems.length ? `Cannot colour this attribution: ${problems.join("; ")}.` : "");

    nRows = matrix ? matrix.rows : 1;
    if (row >= nRows) row = 0;
    rowSelect.replaceChildren();
    for (let r = 0; r < nRows; r++) {
      const o = document.createElement("option");
      o.value = String(r);
      o.textContent = labels[r] ?? `target ${r}`;
      rowSelect.appendChild(o);
    }
    rowSelect.value = String(row);
    rowSelect.hidden = nRows < 2;

    const target = currentTarget();
    const causal = model.get("causal") !== false;
    const pickAny = !!model.get("pick_any") && interactive;
    const targetLabel = nRows > 1 ? labels[row] ?? model.get("target_label") : model.get("target_label") || labels[0] || "";
    root.dataset.shownTarget = String(target);

    // Header summary.
    summary.replaceChildren();
    if (select.hidden) addPair("method", METHOD_NAMES[method] ?? method);
    addPair("target", targetLabel ?? "");
    if (target >= 0 && target < tokens.length) addPair("at", `#${target}`);
    const delta = model.get("delta");
    const d = Array.isArray(delta) ? delta[row] : delta;
    if (typeof d === "number") addPair("δ", formatShort(d));
    const n = model.get("n_evals");
    if (n) addPair("evals", String(n));

    // Tokens.
    tokensEl.replaceChildren();
    legendSlot.replaceChildren();
    rowData = matrix ? matrix.data : null;
    rowOffset = matrix ? row * matrix.cols : 0;
    let bin: ((v: number) => number) | undefined;
    if (matrix) {
      // The scale spans the inputs to the target only (in a causal model, later tokens score
      // 0 by construction; an encoder's every token is an input).
      const limit = target >= 0 && causal ? Math.min(target, matrix.cols) : matrix.cols;
      const slice = Array.prototype.slice.call(matrix.data, rowOffset, rowOffset + Math.max(limit, 1)) as number[];
      const kind = chooseKind("auto", slice);
      const scale = makeScale({
        kind,
        domain: domainOf(kind, slice),
        background: resolved.background,
        foreground: resolved.foreground,
        dark: resolved.dark,
      });
      bin = scale.bin;
      setScaleCss(root, scale);
      legendSlot.appendChild(renderLegend(scale, "score"));
    }
    const { fragment, spans: drawn } = renderTokens(tokens, {
      values: rowData,
      offset: rowOffset,
      bin,
      uncoloured: (i) => causal && target >= 0 && i >= target,
      classes: (i) => {
        let c = i >= promptLen || pickAny ? "iw-cont" : "";
        if (causal && target >= 0 && i >= target) c += " iw-after";
        if (i === target) c += " iw-target";
        return c;
      },
    });
    tokensEl.appendChild(fragment);
    spans = drawn;
    markSelected();
    // Continuation tokens are buttons when Python can recompute (keyboard: Tab + Enter).
    if (interactive) {
      for (const sp of tokensEl.querySelectorAll<HTMLElement>(".iw-cont")) {
        sp.tabIndex = 0;
        sp.setAttribute("role", "button");
        sp.setAttribute("aria-label", `explain token ${sp.dataset.index}`);
      }
    }
    if (target >= 0 && target === tokens.length && targetLabel) {
      const next = document.createElement("span");
      next.className = "iw-next";
      next.textContent = targetLabel;
      next.title = causal ? "next-token target" : "target: a score of the whole text";
      tokensEl.appendChild(next);
    }
    const hasCont = promptLen < tokens.length;
    hint.textContent = pickAny
      ? "Click a token to explain what the model predicts there (at a mask: what fills it)."
      : "Click an underlined (continuation) token to explain it.";
    hint.hidden = !(interactive && (hasCont || pickAny));
    syncBusy();
  };

  // The linked selection (Explorer, iw.linked): highlighted, not a target change.
  let spans: HTMLSpanElement[] = [];
  let selectedSpan: HTMLElement | null = null;
  const markSelected = () => {
    selectedSpan?.classList.remove("iw-selected");
    selectedSpan = null;
    const i = model.get("selected_token");
    if (typeof i === "number" && i >= 0 && spans[i]) {
      selectedSpan = spans[i];
      selectedSpan.classList.add("iw-selected");
    }
  };

  const syncBusy = () => {
    const busy = shell.syncBusy();
    select.disabled = !model.get("interactive") || busy;
    rowSelect.disabled = busy;
  };

  const onClick = (ev: Event) => {
    const span = tokenFromEvent(ev, root);
    if (!span) return;
    if (!model.get("interactive") || model.get("busy")) return;
    const i = Number(span.dataset.index);
    const promptLen = Number(model.get("prompt_len") ?? 0);
    if (!(i >= promptLen || model.get("pick_any")) || i === model.get("target_position")) return; // interactive: checked above
    model.set("target_position", i);
    model.save_changes();
  };
  const onKey = (ev: KeyboardEvent) => {
    if (ev.key === "Enter" || ev.key === " ") {
      if (tokenFromEvent(ev, root)) {
        ev.preventDefault();
        onClick(ev);
      }
    }
  };
  const onMethod = () => {
    if (!model.get("interactive") || model.get("busy")) return;
    if (select.value && select.value !== model.get("method")) {
      model.set("method", select.value);
      model.save_changes();
    }
  };
  const onRow = () => {
    row = Number(rowSelect.value) || 0;
    draw();
  };
  shell.listen(body, "click", onClick);
  shell.listen(body, "keydown", onKey);
  shell.listen(select, "change", onMethod);
  shell.listen(rowSelect, "change", onRow);

  shell.cleanup(attachTooltip(root, (span) => {
    const i = Number(span.dataset.index);
    const promptLen = Number(model.get("prompt_len") ?? 0);
    const target = currentTarget();
    let extra = i >= promptLen ? "continuation" : "prompt";
    if (model.get("causal") === false) {
      if (i === target) extra += " · target (predicted here)";
    } else if (target >= 0 && i >= target) extra += i === target ? " · target" : " · not an input";
    return {
      token: String((model.get("tokens") ?? [])[i] ?? ""),
      index: i,
      value: span.dataset.value,
      row: nRows > 1 ? (model.get("row_labels") ?? [])[row] : undefined,
      extra,
    };
  }));

  const redraw = coalesce(draw);
  shell.cleanup(redraw.cancel);
  for (const k of DATA_TRAITS) shell.on(`change:${k}`, redraw.schedule);
  shell.on("change:busy", syncBusy);
  shell.on("change:selected_token", markSelected);
  shell.on("change:progress", syncBusy);
  shell.watchTheme(draw);

  draw();
  return shell.dispose;
}

export default { render };
