/**
 * TopNeuronsView: the MLP neurons most active at the selected token, as bars. Clicking a
 * token selects it (`selected_token`); clicking a neuron sets `selected_neuron` and Python
 * sends its promoted/suppressed tokens; "open neuron panel" sets `open_request`.
 * Python: interp_widgets/views/top_neurons.py (same trait names).
 */
import type { RenderProps } from "@anywidget/types";
import { formatShort } from "../lib/format";
import { createViewShell } from "../lib/shell";
import { type ThemeOption } from "../lib/theme";
import { displayToken, renderTokens, tokenFromEvent } from "../lib/tokens";

export interface Hit {
  layer: number;
  index: number;
  activation: number;
}

export interface TopNeuronsModel {
  tokens: string[];
  selected_token: number;
  neurons_at: number;
  neurons: Hit[];
  selected_neuron: number[];
  promoted: [string, number][];
  suppressed: [string, number][];
  open_request: number[];
  can_open: boolean;
  title: string;
  busy: boolean;
  error: string;
  interactive: boolean;
  theme: ThemeOption;
}

const CSS = `
.iw-top-neurons .iw-strip { margin-bottom: 8px; }
.iw-top-neurons .iw-strip .iw-token { cursor: pointer; }
.iw-top-neurons .iw-list { display: grid; grid-template-columns: max-content minmax(120px, 1fr) max-content; gap: 3px 10px; align-items: center; max-width: 640px; }
.iw-top-neurons .iw-neuron { display: contents; cursor: pointer; }
.iw-top-neurons .iw-neuron > * { cursor: pointer; }
.iw-top-neurons .iw-nname { font-family: var(--iw-mono); font-size: 12px; padding: 1px 6px; border-radius: 3px; }
.iw-top-neurons .iw-neuron.iw-on .iw-nname { background: var(--iw-accent); color: var(--iw-bg); }
.iw-top-neurons .iw-neuron:hover .iw-nname { box-shadow: 0 0 0 1px var(--iw-fg); }
.iw-top-neurons .iw-track { height: 10px; background: var(--iw-panel); border: 1px solid var(--iw-border); border-radius: 2px; overflow: hidden; }
.iw-top-neurons .iw-fill { height: 100%; background: var(--iw-accent); opacity: 0.8; }
.iw-top-neurons .iw-val { font-family: var(--iw-mono); font-size: 12px; text-align: right; }
.iw-top-neurons .iw-effects { margin-top: 10px; display: flex; flex-direction: column; gap: 4px; font-size: 12px; }
.iw-top-neurons .iw-effects .iw-k { color: var(--iw-muted); margin-right: 6px; }
.iw-top-neurons .iw-chip { display: inline-block; white-space: pre; font-family: var(--iw-mono); padding: 0 4px; margin: 0 3px 2px 0;
  border: 1px solid var(--iw-border); border-radius: 3px; }
.iw-top-neurons .iw-open { font: inherit; font-size: 12px; padding: 2px 10px; border-radius: 4px; cursor: pointer; align-self: flex-start;
  color: var(--iw-fg); background: var(--iw-panel); border: 1px solid var(--iw-border); }
.iw-top-neurons .iw-empty { color: var(--iw-muted); font-size: 12px; }
.iw-top-neurons[data-busy="true"] .iw-list { opacity: 0.5; }
`;

function render({ model, el }: Pick<RenderProps<TopNeuronsModel>, "model" | "el">): () => void {
  const shell = createViewShell(el, model, "iw-top-neurons", CSS, { progress: false });
  const { root, title, summary: at } = shell;
  const strip = document.createElement("div");
  strip.className = "iw-tokens iw-strip";
  const list = document.createElement("div");
  list.className = "iw-list";
  const effects = document.createElement("div");
  effects.className = "iw-effects";
  root.append(strip, list, effects);

  let spans: HTMLSpanElement[] = [];
  const drawStrip = () => {
    root.dataset.iwTheme = (model.get("theme") || "auto") as string;
    const { fragment, spans: s } = renderTokens(model.get("tokens") ?? []);
    strip.replaceChildren(fragment);
    spans = s;
    markSelected();
  };
  let selected: HTMLElement | null = null;
  const markSelected = () => {
    selected?.classList.remove("iw-selected");
    selected = null;
    const i = model.get("selected_token");
    if (typeof i === "number" && i >= 0 && spans[i]) {
      selected = spans[i];
      selected.classList.add("iw-selected");
    }
  };

  const chips = (label: string, items: [string, number][]) => {
    const row = document.createElement("div");
    const k = document.createElement("span");
    k.className = "iw-k";
    k.textContent = label;
    row.appendChild(k);
    for (const [tok, v] of items) {
      const c = document.createElement("span");
      c.className = "iw-chip";
      c.textContent = displayToken(String(tok));
      c.title = formatShort(Number(v));
      row.appendChild(c);
    }
    return row;
  };

  const drawList = () => {
    title.textContent = model.get("title") ?? "";
    const tokens = model.get("tokens") ?? [];
    const pos = model.get("neurons_at");
    const sel = model.get("selected_token");
    at.replaceChildren();
    list.replaceChildren();
    if (typeof sel !== "number" || sel < 0) {
      const e = document.createElement("div");
      e.className = "iw-empty";
      e.textContent = "Select a token to list the neurons most active there.";
      list.appendChild(e);
    } else if (pos === sel) {
      const k = document.createElement("span");
      k.className = "iw-k";
      k.textContent = `token ${pos}`;
      const v = document.createElement("span");
      v.className = "iw-v";
      v.textContent = displayToken(String(tokens[pos] ?? ""));
      at.append(k, v);
      const hits = model.get("neurons") ?? [];
      const max = Math.max(1e-9, ...hits.map((h) => Math.abs(h.activation)));
      const on = model.get("selected_neuron") ?? [];
      for (const h of hits) {
        const row = document.createElement("div");
        row.className = "iw-neuron";
        if (on.length === 2 && on[0] === h.layer && on[1] === h.index) row.classList.add("iw-on");
        row.dataset.layer = String(h.layer);
        row.dataset.index = String(h.index);
        row.dataset.activation = String(h.activation);
        const name = document.createElement("span");
        name.className = "iw-nname";
        name.textContent = `L${h.layer} N${h.index}`;
        const track = document.createElement("div");
        track.className = "iw-track";
        const fill = document.createElement("div");
        fill.className = "iw-fill";
        fill.style.width = `${Math.max(0, (100 * h.activation) / max).toFixed(1)}%`;
        track.appendChild(fill);
        const val = document.createElement("span");
        val.className = "iw-val";
        val.textContent = formatShort(h.activation);
        row.append(name, track, val);
        list.appendChild(row);
      }
      if (!hits.length) {
        const e = document.createElement("div");
        e.className = "iw-empty";
        e.textContent = "No neurons.";
        list.appendChild(e);
      }
    } else {
      const e = document.createElement("div");
      e.className = "iw-empty";
      e.textContent = model.get("busy") ? "Computing…" : "Not computed for this token yet.";
      list.appendChild(e);
    }
    drawEffects();
  };

  const drawEffects = () => {
    effects.replaceChildren();
    const on = model.get("selected_neuron") ?? [];
    if (on.length !== 2) return;
    const promoted = model.get("promoted") ?? [];
    const suppressed = model.get("suppressed") ?? [];
    const head = document.createElement("div");
    head.className = "iw-title";
    head.textContent = `Neuron L${on[0]} N${on[1]}`;
    effects.appendChild(head);
    if (promoted.length) effects.appendChild(chips("promotes", promoted));
    if (suppressed.length) effects.appendChild(chips("suppresses", suppressed));
    if (model.get("can_open") && model.get("interactive")) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "iw-open";
      b.textContent = "Open neuron panel";
      b.addEventListener("click", () => {
        model.set("open_request", [on[0], on[1]]);
        model.save_changes();
      });
      effects.appendChild(b);
    }
  };

  const onStrip = (ev: Event) => {
    const span = tokenFromEvent(ev, root);
    if (!span) return;
    const i = Number(span.dataset.index);
    model.set("selected_token", model.get("selected_token") === i ? -1 : i);
    model.save_changes();
  };
  const onList = (ev: Event) => {
    const t = ev.target as Element | null;
    const row = t?.closest?.(".iw-neuron") as HTMLElement | null;
    if (!row || !model.get("interactive")) return;
    model.set("selected_neuron", [Number(row.dataset.layer), Number(row.dataset.index)]);
    model.save_changes();
  };
  shell.listen(strip, "click", onStrip);
  shell.listen(list, "click", onList);

  shell.on("change:tokens", drawStrip);
  shell.on("change:theme", drawStrip);
  shell.on("change:selected_token", () => { markSelected(); drawList(); });
  for (const k of ["neurons", "neurons_at", "selected_neuron", "title"]) shell.on(`change:${k}`, drawList);
  shell.on("change:promoted", drawEffects);
  shell.on("change:suppressed", drawEffects);
  shell.on("change:busy", () => { shell.syncBusy(); drawList(); });
  drawStrip();
  drawList();
  shell.syncBusy();
  return shell.dispose;
}

export default { render };
