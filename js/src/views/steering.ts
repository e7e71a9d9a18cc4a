/**
 * SteeringPlayground: a prompt, a coefficient slider, and the baseline (c = 0) and steered
 * continuations side by side, growing token by token while Python generates them.
 *
 * Asking for work: the Generate button, releasing the slider, or Enter in the prompt sets the
 * valid settings as traits (save_changes) and sends `{type: "generate", ...settings}`;
 * settings that are not numbers travel as the text typed (Python answers with `error`, e.g.
 * for a NaN coefficient). Stop sends `{type: "stop"}`. Python streams `baseline_tokens` and
 * `steered_tokens`; new tokens are appended to the columns (spans, textContent only), not
 * re-rendered. Steered tokens from the first one that differs from the baseline get a subtle
 * highlight. Static export (interactive=false): the last texts, controls disabled.
 * Python: interp_widgets/views/steering.py (same trait names).
 */
import type { RenderProps } from "@anywidget/types";
import { formatShort } from "../lib/format";
import { coalesce } from "../lib/schedule";
import { createViewShell } from "../lib/shell";
import { type ThemeOption } from "../lib/theme";
import { attachTooltip } from "../lib/tooltip";

export interface SteeringModel {
  prompt: string;
  coefficient: number;
  coefficient_min: number;
  coefficient_max: number;
  greedy: boolean;
  temperature: number;
  max_tokens: number;
  seed: number;
  baseline_tokens: string[];
  steered_tokens: string[];
  generated_prompt: string;
  generated_coefficient: number;
  generation: number;
  stopped: boolean;
  model_name: string;
  layer: number;
  n_layers: number;
  vector_norm: number;
  source: string;
  busy: boolean;
  progress: number;
  error: string;
  interactive: boolean;
  theme: ThemeOption;
}

/** Slider steps between its two ends. */
export const SLIDER_STEPS = 200;

const CSS = `
.iw-steer .iw-steer-controls { display: flex; flex-direction: column; gap: 6px; margin-bottom: 8px; }
.iw-steer textarea.iw-prompt { box-sizing: border-box; width: 100%; min-height: 2.6em; resize: vertical;
  font-family: var(--iw-mono); font-size: 13px; color: var(--iw-fg); background: var(--iw-bg);
  border: 1px solid var(--iw-border); border-radius: 4px; padding: 4px 6px; }
.iw-steer .iw-row { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 14px; }
.iw-steer .iw-field { display: inline-flex; align-items: center; gap: 5px; font-size: 12px; color: var(--iw-muted); }
.iw-steer input[type="range"] { width: 220px; accent-color: var(--iw-accent); }
.iw-steer input.iw-num { font-family: var(--iw-mono); font-size: 12px; width: 4.5em; color: var(--iw-fg);
  background: var(--iw-bg); border: 1px solid var(--iw-border); border-radius: 4px; padding: 1px 4px; }
.iw-steer input.iw-coef { width: 5em; }
.iw-steer input:disabled, .iw-steer textarea:disabled { color: var(--iw-muted); }
.iw-steer input[type="checkbox"] { accent-color: var(--iw-accent); margin: 0; }
.iw-steer .iw-unit { font-family: var(--iw-mono); }
.iw-steer button { font: inherit; font-size: 12px; border: 1px solid var(--iw-border); border-radius: 4px;
  background: var(--iw-panel); color: var(--iw-fg); padding: 2px 12px; cursor: pointer; }
.iw-steer button.iw-go { background: var(--iw-accent); border-color: var(--iw-accent); color: #ffffff; }
.iw-steer button:disabled { opacity: 0.5; cursor: default; }
.iw-steer .iw-cols { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 10px; }
.iw-steer .iw-col { border: 1px solid var(--iw-border); border-radius: 6px; padding: 6px 10px 10px; min-height: 5em;
  background: var(--iw-bg); }
.iw-steer .iw-col-head { display: flex; align-items: baseline; gap: 8px; font-size: 12px; color: var(--iw-muted);
  margin-bottom: 4px; }
.iw-steer .iw-col-title { font-weight: 600; color: var(--iw-fg); }
.iw-steer .iw-col-note { margin-left: auto; font-family: var(--iw-mono); font-size: 11px; }
.iw-steer .iw-text { font-family: var(--iw-mono); font-size: 13px; line-height: 1.6; white-space: pre-wrap;
  overflow-wrap: anywhere; }
.iw-steer .iw-text .iw-prompt-text { color: var(--iw-muted); }
.iw-steer .iw-text .iw-token.iw-gen { display: inline; padding: 0; margin: 0; min-width: 0; text-align: left;
  white-space: pre-wrap; line-height: inherit; border-radius: 2px; }
.iw-steer .iw-text .iw-token.iw-gen:hover { box-shadow: 0 0 0 1px var(--iw-muted); }
.iw-steer .iw-text .iw-token.iw-diverged { background: rgba(68, 147, 248, 0.16);
  background: color-mix(in srgb, var(--iw-accent) 16%, transparent); }
.iw-steer .iw-text .iw-token.iw-diverge-start { box-shadow: inset 2px 0 0 var(--iw-accent); }
.iw-steer .iw-caret { display: inline-block; width: 0.55em; height: 1em; vertical-align: text-bottom;
  background: var(--iw-accent); opacity: 0.6; margin-left: 1px; }
.iw-steer[data-busy="false"] .iw-caret, .iw-steer .iw-caret[hidden] { display: none; }
.iw-steer .iw-empty { color: var(--iw-muted); font-style: italic; font-family: var(--iw-ui); }
`;

/**
 * Index of the first steered token that differs from the baseline, or -1. A steered token
 * past the baseline's end counts only once the baseline is finished (`finished`).
 */
export function divergence(baseline: readonly string[], steered: readonly string[], finished: boolean): number {
  for (let i = 0; i < steered.length; i++) {
    if (i >= baseline.length) return finished ? i : -1;
    if (baseline[i] !== steered[i]) return i;
  }
  if (finished && baseline.length > steered.length) return steered.length;
  return -1;
}

/** A coefficient as shown in headers: sign and up to 3 significant digits ("+6", "-0.5"). */
export function formatCoef(c: number): string {
  if (!Number.isFinite(c)) return String(c);
  if (c === 0) return "0";
  return (c > 0 ? "+" : "") + formatShort(c);
}

/** A number typed in a field: the number, or the raw text when it is not a finite number. */
export function parseNumber(text: string): number | string {
  const t = text.trim();
  const v = t === "" ? NaN : Number(t);
  return Number.isFinite(v) ? v : text;
}

/** One column of generated text: the prompt (muted) then one span per token. */
class Column {
  readonly el: HTMLDivElement;
  readonly text: HTMLDivElement;
  readonly title: HTMLSpanElement;
  readonly note: HTMLSpanElement;
  private promptEl: HTMLSpanElement;
  private caret: HTMLSpanElement;
  private empty: HTMLSpanElement;
  spans: HTMLSpanElement[] = [];
  private shown: string[] = [];
  /** How many times the spans were rebuilt from scratch (not appended to). */
  rebuilds = 0;

  constructor(cls: string) {
    this.el = document.createElement("div");
    this.el.className = `iw-col ${cls}`;
    const head = document.createElement("div");
    head.className = "iw-col-head";
    this.title = document.createElement("span");
    this.title.className = "iw-col-title";
    this.note = document.createElement("span");
    this.note.className = "iw-col-note";
    head.append(this.title, this.note);
    this.text = document.createElement("div");
    this.text.className = "iw-text";
    this.promptEl = document.createElement("span");
    this.promptEl.className = "iw-prompt-text";
    this.caret = document.createElement("span");
    this.caret.className = "iw-caret";
    this.empty = document.createElement("span");
    this.empty.className = "iw-empty";
    this.text.append(this.promptEl, this.caret, this.empty);
    this.el.append(head, this.text);
  }

  setPrompt(prompt: string, emptyNote: string): void {
    if (this.promptEl.textContent !== prompt) this.promptEl.textContent = prompt;
    this.empty.textContent = emptyNote;
    this.empty.hidden = emptyNote === "";
  }

  /** Show `tokens`: append the new ones when they extend what is shown, else rebuild. */
  update(tokens: readonly string[]): void {
    let keep = Math.min(this.shown.length, tokens.length);
    for (let i = 0; i < keep; i++) {
      if (this.shown[i] !== tokens[i]) {
        keep = i;
        break;
      }
    }
    if (keep < this.shown.length) {
      for (const s of this.spans.splice(keep)) s.remove();
      this.shown.length = keep;
      this.rebuilds++;
    }
    if (tokens.length > keep) {
      const frag = document.createDocumentFragment();
      for (let i = keep; i < tokens.length; i++) {
        const span = document.createElement("span");
        span.className = "iw-token iw-gen";
        span.dataset.index = String(i);
        span.textContent = String(tokens[i]);
        frag.appendChild(span);
        this.spans.push(span);
        this.shown.push(String(tokens[i]));
      }
      this.text.insertBefore(frag, this.caret);
    }
  }

  /** Mark tokens from `from` on as diverged (-1: none). */
  markFrom(from: number): void {
    this.spans.forEach((s, i) => {
      const on = from >= 0 && i >= from;
      s.classList.toggle("iw-diverged", on);
      s.classList.toggle("iw-diverge-start", on && i === from);
    });
  }
}

function render({ model, el }: Pick<RenderProps<SteeringModel>, "model" | "el">): () => void {
  const shell = createViewShell(el, model, "iw-steer", CSS);
  const { root, addPair } = shell;
  shell.title.textContent = "Steering playground";
  // The view has one error box, for the `error` trait: the shell's box for data problems goes.
  shell.dataError.el.remove();

  const controls = document.createElement("div");
  controls.className = "iw-steer-controls";
  const prompt = document.createElement("textarea");
  prompt.className = "iw-prompt";
  prompt.rows = 2;
  prompt.placeholder = "Type a prompt, then Generate (Enter)";
  prompt.setAttribute("aria-label", "prompt");

  const field = (label: string, ...inputs: HTMLElement[]) => {
    const f = document.createElement("label");
    f.className = "iw-field";
    const t = document.createElement("span");
    t.textContent = label;
    f.append(t, ...inputs);
    return f;
  };
  const numInput = (cls: string, label: string) => {
    const i = document.createElement("input");
    i.type = "text";
    i.inputMode = "decimal";
    i.className = `iw-num ${cls}`;
    i.setAttribute("aria-label", label);
    return i;
  };
  const slider = document.createElement("input");
  slider.type = "range";
  slider.className = "iw-slider";
  slider.setAttribute("aria-label", "steering coefficient");
  const coefInput = numInput("iw-coef", "steering coefficient value");
  const unit = document.createElement("span");
  unit.className = "iw-unit";
  const greedy = document.createElement("input");
  greedy.type = "checkbox";
  greedy.className = "iw-greedy";
  const temperature = numInput("iw-temperature", "temperature");
  const maxTokens = numInput("iw-max-tokens", "max tokens");
  maxTokens.inputMode = "numeric";
  const seed = numInput("iw-seed", "seed");
  seed.inputMode = "numeric";
  const go = document.createElement("button");
  go.type = "button";
  go.className = "iw-go";
  go.textContent = "Generate";
  const stop = document.createElement("button");
  stop.type = "button";
  stop.className = "iw-stop";
  stop.textContent = "Stop";

  const row1 = document.createElement("div");
  row1.className = "iw-row";
  row1.append(field("coefficient", slider, coefInput, unit));
  const row2 = document.createElement("div");
  row2.className = "iw-row";
  row2.append(field("greedy", greedy), field("temperature", temperature), field("max tokens", maxTokens),
    field("seed", seed), go, stop);
  controls.append(prompt, row1, row2);
  // The controls sit between the header and the progress bar.
  shell.header.after(controls);

  const hint = document.createElement("div");
  hint.className = "iw-hint";
  const cols = document.createElement("div");
  cols.className = "iw-cols";
  const baseCol = new Column("iw-baseline");
  const steerCol = new Column("iw-steered");
  cols.append(baseCol.el, steerCol.el);
  root.append(cols, hint);

  const inputs: (HTMLInputElement | HTMLTextAreaElement | HTMLButtonElement)[] = [
    prompt, slider, coefInput, greedy, temperature, maxTokens, seed, go, stop,
  ];

  const setIfChanged = (input: HTMLInputElement | HTMLTextAreaElement, value: string) => {
    if (input.value !== value) input.value = value;
  };

  /** The coefficient shown next to the slider, and what it adds (|c| * |v|). */
  const showCoefficient = (c: number) => {
    const norm = Number(model.get("vector_norm")) || 0;
    unit.textContent = Number.isFinite(c) ? `× v  (adds ‖cv‖ = ${formatShort(Math.abs(c) * norm)})` : "× v";
  };

  const syncRange = () => {
    const lo = Number(model.get("coefficient_min"));
    const hi = Number(model.get("coefficient_max"));
    slider.min = String(lo);
    slider.max = String(hi);
    slider.step = String((hi - lo) / SLIDER_STEPS);
    syncCoefficient();
  };
  const syncCoefficient = () => {
    const c = Number(model.get("coefficient"));
    setIfChanged(slider, String(c));
    setIfChanged(coefInput, String(c));
    showCoefficient(c);
  };
  const syncGreedy = () => {
    greedy.checked = !!model.get("greedy");
    syncEnabled();
  };
  // One sync per trait, so that a change of one never overwrites what is typed in another.
  const settingSyncs: [keyof SteeringModel, () => void][] = [
    ["coefficient_min", syncRange],
    ["coefficient_max", syncRange],
    ["coefficient", syncCoefficient],
    ["prompt", () => setIfChanged(prompt, String(model.get("prompt") ?? ""))],
    ["greedy", syncGreedy],
    ["temperature", () => setIfChanged(temperature, String(model.get("temperature")))],
    ["max_tokens", () => setIfChanged(maxTokens, String(model.get("max_tokens")))],
    ["seed", () => setIfChanged(seed, String(model.get("seed")))],
  ];
  const syncSettings = () => {
    for (const [, fn] of settingSyncs) fn();
  };

  const syncEnabled = () => {
    const interactive = !!model.get("interactive");
    const busy = !!model.get("busy");
    root.dataset.interactive = String(interactive);
    root.dataset.busy = String(busy);
    for (const i of inputs) i.disabled = !interactive;
    if (interactive) {
      temperature.disabled = greedy.checked;
      stop.disabled = !busy;
    }
    hint.textContent = interactive
      ? "Release the slider or press Generate to generate again; highlighted: steered tokens from where they first differ from the baseline."
      : "Static page: generation needs Python (the last generated texts are shown); highlighted: steered tokens from where they first differ from the baseline.";
  };

  const drawSummary = () => {
    shell.summary.replaceChildren();
    if (model.get("model_name")) addPair("model", String(model.get("model_name")));
    addPair("layer", `${model.get("layer")} (resid_post)`);
    addPair("‖v‖", formatShort(Number(model.get("vector_norm"))));
    if (model.get("source")) addPair("vector", String(model.get("source")));
  };

  const drawColumns = () => {
    const base = model.get("baseline_tokens") ?? [];
    const steered = model.get("steered_tokens") ?? [];
    const busy = !!model.get("busy");
    const gp = String(model.get("generated_prompt") ?? "");
    const started = (model.get("generation") ?? 0) > 0 || base.length > 0 || steered.length > 0;
    const emptyNote = (toks: readonly string[]) =>
      toks.length ? "" : busy ? "" : started ? " (no tokens: end of text)" : gp ? "" :
        model.get("interactive") ? "Nothing generated yet: press Generate." : "Nothing generated yet.";
    baseCol.setPrompt(gp, emptyNote(base));
    steerCol.setPrompt(gp, emptyNote(steered));
    baseCol.update(base);
    steerCol.update(steered);
    // the coefficient of the text shown; before any generation, the one Generate would use
    const gc = Number(model.get(started ? "generated_coefficient" : "coefficient"));
    baseCol.title.textContent = "baseline (c = 0)";
    steerCol.title.textContent = `steered (c = ${formatCoef(gc)})`;
    const stopped = model.get("stopped") ? " · stopped" : "";
    baseCol.note.textContent = `${base.length} tokens${stopped}`;
    const d = divergence(base, steered, !busy);
    root.dataset.divergence = String(d);
    steerCol.markFrom(d);
    steerCol.note.textContent = `${steered.length} tokens${stopped}` + (d >= 0 ? ` · differs from #${d}` : steered.length && !busy ? " · same as baseline" : "");
    root.dataset.generation = String(model.get("generation") ?? 0);
    root.dataset.stopped = String(!!model.get("stopped"));
    root.dataset.steeredCount = String(steered.length);
    root.dataset.baselineCount = String(base.length);
  };

  const syncBusy = () => {
    syncEnabled();
    shell.syncBusy();
  };

  const draw = () => {
    root.dataset.iwTheme = (model.get("theme") || "auto") as string;
    drawSummary();
    syncSettings();
    drawColumns();
    syncBusy();
  };

  // -- asking Python for work ------------------------------------------------------------
  const requestGenerate = (coefficient?: number | string) => {
    if (!model.get("interactive")) return;
    const coef = coefficient ?? parseNumber(coefInput.value);
    const temp = parseNumber(temperature.value);
    const n = parseNumber(maxTokens.value);
    const sd = parseNumber(seed.value);
    const settings = {
      prompt: prompt.value,
      coefficient: coef,
      greedy: greedy.checked,
      temperature: temp,
      max_tokens: n,
      seed: sd,
    };
    // Valid values become traits at once; all go with the message, which Python checks.
    model.set("prompt", prompt.value);
    model.set("greedy", greedy.checked);
    if (typeof coef === "number") model.set("coefficient", coef);
    if (typeof temp === "number") model.set("temperature", temp);
    if (typeof n === "number" && Number.isInteger(n)) model.set("max_tokens", n);
    if (typeof sd === "number" && Number.isInteger(sd)) model.set("seed", sd);
    model.save_changes();
    model.send({ type: "generate", ...settings });
  };

  const onSliderInput = () => {
    coefInput.value = slider.value;
    showCoefficient(Number(slider.value));
  };
  const onSliderChange = () => {
    coefInput.value = slider.value;
    requestGenerate(Number(slider.value));
  };
  const onCoefChange = () => {
    const v = parseNumber(coefInput.value);
    if (typeof v === "number") {
      slider.value = String(v);
      showCoefficient(v);
    }
    requestGenerate(v);
  };
  const onPromptKey = (ev: KeyboardEvent) => {
    ev.stopPropagation(); // not a notebook shortcut
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      requestGenerate();
    }
  };
  const onFieldKey = (ev: KeyboardEvent) => {
    ev.stopPropagation();
    if (ev.key === "Enter") {
      ev.preventDefault();
      (ev.target as HTMLElement).blur?.();
      if (ev.target !== coefInput) requestGenerate();
    }
  };
  const onGo = () => requestGenerate();
  const onStop = () => {
    if (!model.get("interactive")) return;
    model.send({ type: "stop" });
  };
  const onGreedy = () => {
    temperature.disabled = greedy.checked || !model.get("interactive");
    model.set("greedy", greedy.checked);
    model.save_changes();
  };

  shell.listen(slider, "input", onSliderInput);
  shell.listen(slider, "change", onSliderChange);
  shell.listen(coefInput, "change", onCoefChange);
  for (const t of [coefInput, temperature, maxTokens, seed]) shell.listen(t, "keydown", onFieldKey);
  shell.listen(prompt, "keydown", onPromptKey);
  shell.listen(go, "click", onGo);
  shell.listen(stop, "click", onStop);
  shell.listen(greedy, "change", onGreedy);

  shell.cleanup(attachTooltip(root, (span) => {
    const col = span.closest(".iw-col");
    const i = Number(span.dataset.index);
    const steered = !!col?.classList.contains("iw-steered");
    const toks = (steered ? model.get("steered_tokens") : model.get("baseline_tokens")) ?? [];
    const d = Number(root.dataset.divergence);
    return {
      token: String(toks[i] ?? ""),
      index: i,
      row: steered ? `steered (c = ${formatCoef(Number(model.get("generated_coefficient")))})` : "baseline",
      extra: steered && d >= 0 && i >= d ? "after the first difference from the baseline" : undefined,
    };
  }));

  const redrawAll = coalesce(draw);
  const redrawCols = coalesce(drawColumns);
  shell.cleanup(redrawAll.cancel);
  shell.cleanup(redrawCols.cancel);
  for (const k of ["baseline_tokens", "steered_tokens", "generated_prompt", "generated_coefficient", "generation", "stopped"]) {
    shell.on(`change:${k}`, redrawCols.schedule);
  }
  shell.on("change:busy", () => {
    syncBusy();
    redrawCols.schedule();
  });
  shell.on("change:progress", syncBusy);
  for (const [k, fn] of settingSyncs) shell.on(`change:${k}`, fn);
  for (const k of ["model_name", "layer", "vector_norm", "source", "interactive", "theme"]) shell.on(`change:${k}`, redrawAll.schedule);

  draw();
  return shell.dispose;
}

export default { render };
