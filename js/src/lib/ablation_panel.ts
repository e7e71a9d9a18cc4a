/**
 * Switching attention heads off from a view (AttentionView, PatchingView): the toggles, and
 * the "Next token: before → after" panel that shows what Python's re-run returned.
 * Python: interp_widgets/views/_ablation.py (same trait names).
 *
 * Traits: `ablated_heads` ([[layer, head], ...], set here), `ablate_mode` ("zero" | "mean",
 * set here), `ablation` (the panel, from Python: `heads`, `mode`, `tokens` + `probs` float32
 * [rows, 2] (before, after), `movers` + `mover_probs` float32 [k, 2], `kl`,
 * `logprob_change`; {} when nothing is off), `ablation_busy`, `ablation_error` and
 * `can_ablate` (false without Python: the toggles are disabled). Token text goes in through
 * textContent only.
 */
import type { ArrayPayload } from "./codec";
import { decodeArray } from "./codec";
import { createErrorBox } from "./error";
import { format4 } from "./format";
import { displayToken } from "./tokens";

export interface AblationData {
  heads: number[][];
  mode: string;
  tokens: string[];
  probs: ArrayPayload | null;
  movers: string[];
  mover_probs: ArrayPayload | null;
  kl: number;
  logprob_change: number;
}

export interface AblationTraits {
  ablated_heads: number[][];
  ablate_mode: string;
  ablation: Partial<AblationData>;
  ablation_busy: boolean;
  ablation_error: string;
  can_ablate: boolean;
}

/** The traits the panel and the toggles draw from (views listen to `change:` of each). */
export const ABLATION_TRAITS = ["ablated_heads", "ablate_mode", "ablation", "ablation_busy", "ablation_error", "can_ablate"] as const;

/** The part of anywidget's model the panel needs (a view passes its own model). */
/** "next-token distribution", "class distribution", "distribution of the token at [MASK] #6". */
export function distributionOf(readout: string): string {
  if (readout === "next token") return "next-token distribution";
  if (readout === "class") return "class distribution";
  return `distribution of the ${readout}`;
}

export interface AblationHost {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  save_changes(): void;
}

export const ABLATION_CSS = `
.iw-ablation { border: 1px solid var(--iw-border); border-radius: 6px; padding: 8px 10px; background: var(--iw-panel);
  font-size: 12px; min-width: 240px; max-width: 420px; box-sizing: border-box; }
.iw-ablation h4 { margin: 0; font-size: 12px; font-weight: 600; color: var(--iw-fg); }
.iw-abl-top { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 10px; margin-bottom: 6px; }
.iw-abl-top label { color: var(--iw-muted); }
.iw-ablation select, .iw-ablation button { font: inherit; font-size: 12px; color: var(--iw-fg); background: var(--iw-bg);
  border: 1px solid var(--iw-border); border-radius: 4px; padding: 1px 6px; }
.iw-ablation button { cursor: pointer; }
.iw-ablation button:disabled, .iw-ablation select:disabled { cursor: not-allowed; opacity: 0.55; }
.iw-abl-chips { display: flex; flex-wrap: wrap; gap: 4px; align-items: center; margin-bottom: 6px; color: var(--iw-muted); }
.iw-ablation .iw-ablate-chip { font-family: var(--iw-mono); font-size: 11px; padding: 0 5px; border-color: var(--iw-error-fg); color: var(--iw-error-fg); }
.iw-abl-picker { display: flex; flex-wrap: wrap; gap: 4px; align-items: center; margin-bottom: 6px; color: var(--iw-muted); }
.iw-abl-caption { margin: -2px 0 6px; font-size: 11px; color: var(--iw-muted); }
.iw-abl-picker[hidden], .iw-abl-caption[hidden], .iw-abl-note[hidden], .iw-abl-busy[hidden] { display: none; }
.iw-abl-note { margin-bottom: 6px; padding: 4px 6px; border-radius: 4px; border-left: 3px solid var(--iw-accent); background: var(--iw-bg); color: var(--iw-fg); }
.iw-abl-busy { display: flex; align-items: center; gap: 6px; color: var(--iw-muted); margin-bottom: 6px; }
.iw-abl-busy::before { content: ""; width: 10px; height: 10px; border-radius: 50%; border: 2px solid var(--iw-border);
  border-top-color: var(--iw-accent); animation: iw-abl-spin 0.8s linear infinite; }
@keyframes iw-abl-spin { to { transform: rotate(360deg); } }
.iw-ablation[data-busy="true"] .iw-abl-body, .iw-ablation[data-stale="true"] .iw-abl-body { opacity: 0.5; }
.iw-abl-cols, .iw-ablation-row { display: grid; grid-template-columns: minmax(3em, 1fr) 64px 64px 9.5em; gap: 6px; align-items: center; }
.iw-abl-cols { font-size: 10.5px; color: var(--iw-muted); margin-bottom: 2px; }
.iw-abl-list { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 2px; }
.iw-ablation-row .iw-abl-tok, .iw-ablation-mover .iw-abl-tok { font-family: var(--iw-mono); white-space: pre; overflow: hidden; text-overflow: ellipsis; }
.iw-abl-track { height: 8px; border-radius: 2px; background: var(--iw-bg); border: 1px solid var(--iw-border); overflow: hidden; }
.iw-abl-bar { display: block; height: 100%; }
.iw-abl-before .iw-abl-bar { background: var(--iw-muted); }
.iw-abl-after .iw-abl-bar { background: var(--iw-accent); }
.iw-abl-p { font-family: var(--iw-mono); font-size: 11px; color: var(--iw-muted); text-align: right; white-space: nowrap; }
.iw-abl-p .iw-abl-up { color: var(--iw-accent); }
.iw-abl-p .iw-abl-down { color: var(--iw-error-fg); }
.iw-abl-stats { margin: 6px 0 4px; font-family: var(--iw-mono); font-size: 11px; color: var(--iw-fg); white-space: pre-wrap; }
.iw-abl-movers { display: flex; flex-wrap: wrap; gap: 2px 10px; font-size: 11px; color: var(--iw-muted); }
.iw-ablation-mover { display: inline-flex; gap: 4px; }
.iw-abl-empty { color: var(--iw-muted); }
`;

const MODES = ["zero", "mean"] as const;

/** The ablated set as `[layer, head]` pairs (ignores malformed entries). */
export function ablatedHeads(model: AblationHost): number[][] {
  const v = model.get("ablated_heads");
  return Array.isArray(v) ? v.filter((p): p is number[] => Array.isArray(p) && p.length === 2) : [];
}

export function isAblated(model: AblationHost, layer: number, head: number): boolean {
  return ablatedHeads(model).some(([l, h]) => l === layer && h === head);
}

/** Can the reader switch heads now (Python behind the view, nothing in flight)? */
export function canToggle(model: AblationHost): boolean {
  return !!model.get("can_ablate") && !model.get("ablation_busy");
}

/** Switch one head off (or back on); returns false when that is not possible now. */
export function toggleHead(model: AblationHost, layer: number, head: number): boolean {
  if (!canToggle(model)) return false;
  const cur = ablatedHeads(model);
  const next = isAblated(model, layer, head)
    ? cur.filter(([l, h]) => l !== layer || h !== head)
    : [...cur, [layer, head]].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  model.set("ablated_heads", next);
  model.save_changes();
  return true;
}

/** Why a toggle is disabled, or "" when it is not. */
function disabledWhy(model: AblationHost): string {
  if (!model.get("can_ablate")) return "Switching heads off needs Python (this view is static).";
  if (model.get("ablation_busy")) return "The model is running…";
  return "";
}

/** A toggle button for one head: `.iw-ablate-toggle[data-layer][data-head]`, aria-pressed when off. */
export function ablateToggle(model: AblationHost, layer: number, head: number): HTMLButtonElement {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "iw-ablate-toggle";
  b.dataset.layer = String(layer);
  b.dataset.head = String(head);
  syncToggle(model, b);
  return b;
}

/** Bring a toggle made by `ablateToggle` up to date with the traits. */
export function syncToggle(model: AblationHost, b: HTMLButtonElement): void {
  const off = isAblated(model, Number(b.dataset.layer), Number(b.dataset.head));
  b.setAttribute("aria-pressed", String(off));
  b.textContent = off ? "head off ✕" : "switch off";
  const why = disabledWhy(model);
  b.disabled = why !== "";
  b.title = why || (off ? "Switch this head back on and re-run the model" : "Switch this head off (zero or mean ablation) and re-run the model");
}

function option(text: string, value: string): HTMLOptionElement {
  const o = document.createElement("option");
  o.textContent = text;
  o.value = value;
  return o;
}

const pct = (p: number) => (Number.isFinite(p) ? `${(p * 100).toFixed(p >= 0.1 || p === 0 ? 1 : 2)}%` : "?");

/** The panel. `picker` (when given) returns the model's layer and head counts for a head picker. */
export function createAblationPanel(
  model: AblationHost,
  opts: { picker?: () => { layers: number; heads: number }; caption?: string } = {},
): { el: HTMLDivElement; update(): void; destroy(): void } {
  const el = document.createElement("div");
  el.className = "iw-ablation";
  el.dataset.busy = "false";

  const top = document.createElement("div");
  top.className = "iw-abl-top";
  const h4 = document.createElement("h4");
  h4.textContent = "Next token: before → after";
  const modeSel = document.createElement("select");
  modeSel.className = "iw-ablate-mode";
  modeSel.setAttribute("aria-label", "how a head is switched off");
  modeSel.append(option("zero", "zero"), option("mean", "mean"));
  modeSel.title = "zero: the head's output is 0; mean: its mean over the prompt's positions";
  const modeLabel = document.createElement("label");
  modeLabel.append("ablation ", modeSel);
  const clear = document.createElement("button");
  clear.type = "button";
  clear.className = "iw-ablate-clear";
  clear.textContent = "all on";
  clear.title = "Switch every head back on";
  top.append(h4, modeLabel, clear);

  const caption = document.createElement("div");
  caption.className = "iw-abl-caption";
  caption.textContent = opts.caption ?? "";
  caption.hidden = !opts.caption;
  const chips = document.createElement("div");
  chips.className = "iw-abl-chips";

  const picker = document.createElement("div");
  picker.className = "iw-abl-picker";
  const layerSel = document.createElement("select");
  layerSel.className = "iw-ablate-layer";
  layerSel.setAttribute("aria-label", "layer of the head to switch off");
  const headSel = document.createElement("select");
  headSel.className = "iw-ablate-head";
  headSel.setAttribute("aria-label", "head to switch off");
  const add = document.createElement("button");
  add.type = "button";
  add.className = "iw-ablate-add";
  add.textContent = "switch off";
  picker.append("head ", layerSel, headSel, add);
  picker.hidden = !opts.picker;
  let pickerSize = "";

  const note = document.createElement("div");
  note.className = "iw-abl-note";
  note.textContent = "Switching heads off re-runs the model, which needs Python: this view is static.";
  const busy = document.createElement("div");
  busy.className = "iw-abl-busy";
  busy.textContent = "running the model with the heads off…";
  const err = createErrorBox();
  const body = document.createElement("div");
  body.className = "iw-abl-body";
  el.append(top, caption, chips, picker, note, busy, err.el, body);

  const update = () => {
    const live = !!model.get("can_ablate");
    const readout = String(model.get("ablation_readout") ?? "next token") || "next token";
    h4.textContent = `${readout.charAt(0).toUpperCase()}${readout.slice(1)}: before → after`;
    const isBusy = !!model.get("ablation_busy");
    const heads = ablatedHeads(model);
    el.dataset.busy = String(isBusy);
    el.dataset.live = String(live);
    note.hidden = live;
    busy.hidden = !isBusy;
    err.set(String(model.get("ablation_error") ?? ""));
    const mode = String(model.get("ablate_mode") ?? "zero");
    modeSel.value = (MODES as readonly string[]).includes(mode) ? mode : "zero";
    modeSel.disabled = !live || isBusy;
    clear.disabled = !live || isBusy || heads.length === 0;

    chips.replaceChildren();
    if (heads.length) {
      chips.append("off: ");
      for (const [l, h] of heads) {
        const c = document.createElement("button");
        c.type = "button";
        c.className = "iw-ablate-chip";
        c.dataset.layer = String(l);
        c.dataset.head = String(h);
        c.textContent = `L${l}H${h} ×`;
        c.title = live ? "Switch this head back on" : "";
        c.disabled = !live || isBusy;
        chips.appendChild(c);
      }
    }

    if (opts.picker) {
      const { layers, heads: nh } = opts.picker();
      picker.hidden = !(layers > 0 && nh > 0);
      const size = `${layers}x${nh}`;
      if (size !== pickerSize) {
        pickerSize = size;
        layerSel.replaceChildren(...Array.from({ length: layers }, (_, i) => option(`L${i}`, String(i))));
        headSel.replaceChildren(...Array.from({ length: nh }, (_, i) => option(`H${i}`, String(i))));
      }
      layerSel.disabled = headSel.disabled = add.disabled = !live || isBusy;
      add.title = live ? "Switch the picked head off and re-run the model" : "Needs Python (this view is static)";
    }

    drawBody(heads);
  };

  const drawBody = (heads: number[][]) => {
    body.replaceChildren();
    const readout = String(model.get("ablation_readout") ?? "next token") || "next token";
    const data = (model.get("ablation") ?? {}) as Partial<AblationData>;
    const tokens = Array.isArray(data.tokens) ? data.tokens : [];
    let probs: ArrayLike<number> = [];
    let movers: ArrayLike<number> = [];
    try {
      probs = decodeArray(data.probs ?? null)?.data ?? [];
      movers = decodeArray(data.mover_probs ?? null)?.data ?? [];
    } catch (e) {
      err.set(`Cannot show the ablation: ${(e as Error).message}.`);
      return;
    }
    if (!tokens.length) {
      const empty = document.createElement("div");
      empty.className = "iw-abl-empty";
      empty.textContent = model.get("can_ablate")
        ? `Switch a head off to see how the ${distributionOf(readout)} moves.`
        : "No head was switched off.";
      body.appendChild(empty);
      return;
    }
    const of = JSON.stringify(data.heads ?? []);
    el.dataset.stale = String(of !== JSON.stringify(heads) || data.mode !== model.get("ablate_mode"));
    el.dataset.heads = (data.heads ?? []).map(([l, h]) => `L${l}H${h}`).join(",");

    const cols = document.createElement("div");
    cols.className = "iw-abl-cols";
    for (const t of [readout === "class" ? "class" : "token", "before", "after", "p before → after"]) {
      const s = document.createElement("span");
      s.textContent = t;
      cols.appendChild(s);
    }
    const list = document.createElement("ol");
    list.className = "iw-abl-list";
    let pmax = 0;
    for (let i = 0; i < probs.length; i++) if (Number.isFinite(probs[i])) pmax = Math.max(pmax, probs[i]);
    const bar = (cls: string, p: number) => {
      const track = document.createElement("span");
      track.className = `iw-abl-track ${cls}`;
      const b = document.createElement("span");
      b.className = "iw-abl-bar";
      b.style.width = `${pmax > 0 && Number.isFinite(p) ? Math.min(100, (p / pmax) * 100) : 0}%`;
      track.appendChild(b);
      return track;
    };
    tokens.forEach((t, i) => {
      const before = Number(probs[2 * i] ?? NaN);
      const after = Number(probs[2 * i + 1] ?? NaN);
      const li = document.createElement("li");
      li.className = "iw-ablation-row";
      li.setAttribute("data-token", String(t));
      li.dataset.before = String(before);
      li.dataset.after = String(after);
      const tok = document.createElement("span");
      tok.className = "iw-abl-tok";
      tok.textContent = displayToken(String(t));
      tok.title = String(t);
      const p = document.createElement("span");
      p.className = "iw-abl-p";
      const arrow = document.createElement("span");
      arrow.className = after > before ? "iw-abl-up" : after < before ? "iw-abl-down" : "";
      arrow.textContent = ` → ${pct(after)}`;
      p.append(pct(before), arrow);
      li.append(tok, bar("iw-abl-before", before), bar("iw-abl-after", after), p);
      list.appendChild(li);
    });

    const stats = document.createElement("div");
    stats.className = "iw-abl-stats";
    const lp = Number(data.logprob_change);
    // The table is sorted by the probability before: its first token is the clean top token.
    stats.textContent = `KL ${format4(Number(data.kl))} nats · Δ log p(${displayToken(String(tokens[0]))}) ${lp >= 0 ? "+" : "−"}${format4(Math.abs(lp))}`;
    stats.title = `KL(before ‖ after) of the ${distributionOf(readout)}, and the change of the log-probability of the top one before`;

    const mv = document.createElement("div");
    mv.className = "iw-abl-movers";
    mv.append("moved most:");
    (Array.isArray(data.movers) ? data.movers : []).slice(0, 5).forEach((t, i) => {
      const d = Number(movers[2 * i + 1]) - Number(movers[2 * i]);
      const s = document.createElement("span");
      s.className = "iw-ablation-mover";
      s.setAttribute("data-token", String(t));
      const tok = document.createElement("span");
      tok.className = "iw-abl-tok";
      tok.textContent = displayToken(String(t));
      s.append(tok, `${d >= 0 ? "+" : "−"}${(Math.abs(d) * 100).toFixed(1)} pp`);
      mv.appendChild(s);
    });
    body.append(cols, list, stats, mv);
  };

  const onClick = (ev: Event) => {
    const t = ev.target as Element | null;
    const chip = t?.closest?.(".iw-ablate-chip") as HTMLElement | null;
    if (chip) {
      toggleHead(model, Number(chip.dataset.layer), Number(chip.dataset.head));
      return;
    }
    if (t?.closest?.(".iw-ablate-clear")) {
      if (!canToggle(model)) return;
      model.set("ablated_heads", []);
      model.save_changes();
      return;
    }
    if (t?.closest?.(".iw-ablate-add")) {
      const l = Number(layerSel.value);
      const h = Number(headSel.value);
      if (Number.isInteger(l) && Number.isInteger(h) && !isAblated(model, l, h)) toggleHead(model, l, h);
    }
  };
  const onMode = () => {
    if (!canToggle(model)) return;
    model.set("ablate_mode", modeSel.value);
    model.save_changes();
  };
  el.addEventListener("click", onClick);
  modeSel.addEventListener("change", onMode);
  update();
  return {
    el,
    update,
    destroy() {
      el.removeEventListener("click", onClick);
      modeSel.removeEventListener("change", onMode);
      el.remove();
    },
  };
}
