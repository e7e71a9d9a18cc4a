/**
 * One tooltip per view, driven by a single delegated listener on the view root (not one
 * listener per token). Content is set with textContent.
 */
import { displayToken, tokenFromEvent } from "./tokens";

export interface TooltipInfo {
  token: string;
  index: number;
  value?: string;
  row?: string;
  extra?: string;
}

export function attachTooltip(root: HTMLElement, describe: (span: HTMLElement) => TooltipInfo | null): () => void {
  const tip = document.createElement("div");
  tip.className = "iw-tooltip";
  tip.hidden = true;
  tip.setAttribute("role", "tooltip");
  root.appendChild(tip);

  const show = (ev: Event) => {
    const span = tokenFromEvent(ev, root);
    if (!span) {
      tip.hidden = true;
      return;
    }
    const info = describe(span);
    if (!info) {
      tip.hidden = true;
      return;
    }
    tip.replaceChildren();
    const head = document.createElement("div");
    const tokEl = document.createElement("span");
    tokEl.className = "iw-tip-token";
    tokEl.textContent = displayToken(info.token);
    head.append(tokEl, document.createTextNode(`  #${info.index}`));
    tip.appendChild(head);
    const lines: string[] = [];
    if (info.row) lines.push(info.row);
    if (info.value !== undefined) lines.push(`value ${info.value}`);
    if (info.extra) lines.push(info.extra);
    for (const l of lines) {
      const d = document.createElement("div");
      d.textContent = l;
      tip.appendChild(d);
    }
    tip.hidden = false;
    const r = span.getBoundingClientRect();
    const rr = root.getBoundingClientRect();
    const w = tip.offsetWidth;
    let left = r.left - rr.left;
    if (left + w > rr.width) left = Math.max(0, rr.width - w);
    tip.style.left = `${left}px`;
    tip.style.top = `${r.bottom - rr.top + 4}px`;
  };
  const hide = () => {
    tip.hidden = true;
  };
  root.addEventListener("mouseover", show);
  root.addEventListener("mouseleave", hide);
  return () => {
    root.removeEventListener("mouseover", show);
    root.removeEventListener("mouseleave", hide);
    tip.remove();
  };
}

/**
 * A bare tooltip box for views that draw on a canvas (no token spans to delegate from):
 * the caller fills it with nodes (text via textContent) and places it under a rectangle
 * given in the root's coordinates.
 */
export function createTooltip(root: HTMLElement): {
  el: HTMLDivElement;
  show(content: Node[], at: { left: number; bottom: number }): void;
  hide(): void;
  remove(): void;
} {
  const tip = document.createElement("div");
  tip.className = "iw-tooltip";
  tip.hidden = true;
  tip.setAttribute("role", "tooltip");
  root.appendChild(tip);
  return {
    el: tip,
    show(content, at) {
      tip.replaceChildren(...content);
      tip.hidden = false;
      const w = tip.offsetWidth;
      const width = root.clientWidth || root.getBoundingClientRect().width;
      let left = at.left;
      if (width && left + w > width) left = Math.max(0, width - w);
      tip.style.left = `${left}px`;
      tip.style.top = `${at.bottom + 4}px`;
    },
    hide() {
      tip.hidden = true;
    },
    remove() {
      tip.remove();
    },
  };
}
