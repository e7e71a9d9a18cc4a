/**
 * ExplorerBar: the Explorer's prompt box, Run button, progress and token strip.
 * Clicking a token sets `selected_token` (every linked panel follows); a continuation token
 * can be chosen as the attribution target with the target selector or by shift-click.
 * Python: interp_widgets/views/explorer.py (class ExplorerBar, same trait names).
 */
import type { RenderProps } from "@anywidget/types";
import { createViewShell } from "../lib/shell";
import { type ThemeOption } from "../lib/theme";
import { displayToken, renderTokens, tokenFromEvent } from "../lib/tokens";
import { attachTooltip } from "../lib/tooltip";

export interface ExplorerBarModel {
  prompt: string;
  max_new_tokens: number;
  run_request: number;
  tokens: string[];
  prompt_len: number;
  selected_token: number;
  target_position: number;
  status: string;
  busy: boolean;
  progress: number;
  error: string;
  interactive: boolean;
  theme: ThemeOption;
}

const CSS = `
.iw-explorer-bar .iw-form { display: flex; flex-wrap: wrap; align-items: flex-end; gap: 8px 12px; margin-bottom: 6px; }
.iw-explorer-bar .iw-prompt { flex: 1 1 320px; min-height: 2.6em; box-sizing: border-box; resize: vertical;
  font-family: var(--iw-mono); font-size: 13px; color: var(--iw-fg); background: var(--iw-panel);
  border: 1px solid var(--iw-border); border-radius: 4px; padding: 4px 6px; }
.iw-explorer-bar label { font-size: 12px; color: var(--iw-muted); display: inline-flex; align-items: center; gap: 4px; }
.iw-explorer-bar input[type=number], .iw-explorer-bar select { font: inherit; font-size: 12px; color: var(--iw-fg);
  background: var(--iw-panel); border: 1px solid var(--iw-border); border-radius: 4px; padding: 1px 4px; }
.iw-explorer-bar input[type=number] { width: 4.5em; }
.iw-explorer-bar .iw-run { font: inherit; font-size: 12px; font-weight: 600; padding: 3px 14px; border-radius: 4px; cursor: pointer;
  color: var(--iw-bg); background: var(--iw-accent); border: 1px solid var(--iw-accent); }
.iw-explorer-bar .iw-run:disabled { opacity: 0.5; cursor: default; }
.iw-explorer-bar .iw-status { font-size: 12px; color: var(--iw-muted); }
.iw-explorer-bar .iw-strip { margin-top: 4px; }
.iw-explorer-bar .iw-token { cursor: pointer; }
.iw-explorer-bar .iw-token.iw-cont { background: var(--iw-panel); box-shadow: inset 0 -2px 0 var(--iw-accent); }
.iw-explorer-bar .iw-token.iw-target { outline: 2px dashed var(--iw-accent); outline-offset: 1px; }
.iw-explorer-bar .iw-token.iw-selected { box-shadow: 0 0 0 2px var(--iw-accent); font-weight: 600; }
.iw-explorer-bar .iw-targets { display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: center; margin-top: 6px; }
.iw-explorer-bar .iw-empty { color: var(--iw-muted); font-size: 12px; }
`;

function render({ model, el }: Pick<RenderProps<ExplorerBarModel>, "model" | "el">): () => void {
  const shell = createViewShell(el, model, "iw-explorer-bar", CSS);
  const { root } = shell;

  const form = document.createElement("div");
  form.className = "iw-form";
  const prompt = document.createElement("textarea");
  prompt.className = "iw-prompt";
  prompt.rows = 2;
  prompt.placeholder = "Type a prompt, then Run (Ctrl+Enter)";
  prompt.setAttribute("aria-label", "prompt");
  const maxLabel = document.createElement("label");
  maxLabel.textContent = "new tokens";
  const maxNew = document.createElement("input");
  maxNew.type = "number";
  maxNew.min = "1";
  maxNew.max = "256";
  maxNew.className = "iw-max-new";
  maxLabel.appendChild(maxNew);
  const run = document.createElement("button");
  run.className = "iw-run";
  run.type = "button";
  run.textContent = "Run";
  const status = document.createElement("span");
  status.className = "iw-status";
  form.append(prompt, maxLabel, run, status);

  const strip = document.createElement("div");
  strip.className = "iw-tokens iw-strip";
  const targets = document.createElement("div");
  targets.className = "iw-targets";
  const targetLabel = document.createElement("label");
  targetLabel.textContent = "attribution target";
  const targetSelect = document.createElement("select");
  targetSelect.className = "iw-target-select";
  targetLabel.appendChild(targetSelect);
  const hint = document.createElement("span");
  hint.className = "iw-hint";
  hint.textContent = "Click a token to select it in every panel · shift-click a continuation token to explain it.";
  targets.append(targetLabel, hint);
  shell.header.replaceWith(form); // the prompt form is this bar's header
  root.append(strip, targets);

  let spans: HTMLSpanElement[] = [];
  let dirty = false; // the reader edited the prompt box since Python last set it

  const syncForm = () => {
    if (!dirty || document.activeElement !== prompt) prompt.value = model.get("prompt") ?? "";
    maxNew.value = String(model.get("max_new_tokens") ?? 8);
  };

  const drawStrip = () => {
    const tokens = model.get("tokens") ?? [];
    const promptLen = Number(model.get("prompt_len") ?? 0);
    strip.replaceChildren();
    if (!tokens.length) {
      const empty = document.createElement("span");
      empty.className = "iw-empty";
      empty.textContent = "No text yet: type a prompt and press Run.";
      strip.appendChild(empty);
      spans = [];
    } else {
      const { fragment, spans: s } = renderTokens(tokens, {
        classes: (i) => (i >= promptLen ? "iw-cont" : "iw-prompt-token"),
      });
      strip.appendChild(fragment);
      spans = s;
    }
    targetSelect.replaceChildren();
    for (let i = promptLen; i < tokens.length; i++) {
      const o = document.createElement("option");
      o.value = String(i);
      o.textContent = `${i}: ${displayToken(String(tokens[i]))}`;
      targetSelect.appendChild(o);
    }
    targets.hidden = tokens.length === 0;
    markSelected();
    markTarget();
  };

  let selected: HTMLElement | null = null;
  const markSelected = () => {
    selected?.classList.remove("iw-selected");
    selected = null;
    const i = model.get("selected_token");
    root.dataset.selected = String(i);
    if (typeof i === "number" && i >= 0 && spans[i]) {
      selected = spans[i];
      selected.classList.add("iw-selected");
    }
  };
  let target: HTMLElement | null = null;
  const markTarget = () => {
    target?.classList.remove("iw-target");
    target = null;
    const i = model.get("target_position");
    root.dataset.target = String(i);
    if (typeof i === "number" && i >= 0 && spans[i]) {
      target = spans[i];
      target.classList.add("iw-target");
      targetSelect.value = String(i);
    }
  };

  const syncBusy = () => {
    const busy = shell.syncBusy();
    const live = !!model.get("interactive");
    run.disabled = busy || !live;
    prompt.disabled = !live;
    maxNew.disabled = !live;
    targetSelect.disabled = busy || !live;
    status.textContent = model.get("status") ?? "";
  };
  const syncTheme = () => {
    root.dataset.iwTheme = (model.get("theme") || "auto") as string;
  };

  const doRun = () => {
    if (model.get("busy") || !model.get("interactive")) return;
    const n = Math.round(Number(maxNew.value));
    model.set("prompt", prompt.value);
    model.set("max_new_tokens", Number.isFinite(n) ? n : Number(model.get("max_new_tokens") ?? 8));
    model.set("run_request", Number(model.get("run_request") ?? 0) + 1);
    model.save_changes();
    dirty = false;
  };
  const setTarget = (i: number) => {
    if (!model.get("interactive") || model.get("busy") || i === model.get("target_position")) return;
    model.set("target_position", i);
    model.save_changes();
  };
  const onClick = (ev: MouseEvent) => {
    const span = tokenFromEvent(ev, root);
    if (!span) return;
    const i = Number(span.dataset.index);
    if (ev.shiftKey && i >= Number(model.get("prompt_len") ?? 0)) {
      setTarget(i);
      return;
    }
    model.set("selected_token", model.get("selected_token") === i ? -1 : i);
    model.save_changes();
  };
  const onKey = (ev: KeyboardEvent) => {
    ev.stopPropagation(); // keep the host's shortcuts (JupyterLab command mode) out of the box
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      doRun();
    }
  };
  const onInput = () => {
    dirty = true;
  };
  const onTarget = () => setTarget(Number(targetSelect.value));

  shell.listen(run, "click", doRun);
  shell.listen(strip, "click", onClick);
  shell.listen(prompt, "keydown", onKey);
  shell.listen(prompt, "input", onInput);
  shell.listen(maxNew, "keydown", onKey);
  shell.listen(targetSelect, "change", onTarget);
  shell.cleanup(attachTooltip(root, (span) => {
    const i = Number(span.dataset.index);
    const promptLen = Number(model.get("prompt_len") ?? 0);
    return {
      token: String((model.get("tokens") ?? [])[i] ?? ""),
      index: i,
      extra: i >= promptLen ? "continuation (shift-click: explain it)" : "prompt",
    };
  }));

  shell.on("change:tokens", drawStrip);
  shell.on("change:prompt_len", drawStrip);
  shell.on("change:selected_token", markSelected);
  shell.on("change:target_position", markTarget);
  shell.on("change:prompt", syncForm);
  shell.on("change:max_new_tokens", syncForm);
  for (const k of ["busy", "progress", "status", "interactive"]) shell.on(`change:${k}`, syncBusy);
  shell.on("change:theme", syncTheme);

  syncTheme();
  syncForm();
  drawStrip();
  syncBusy();
  return shell.dispose;
}

export default { render };
