/**
 * Token rendering. Token text is set with `textContent` only (never innerHTML), so a token
 * such as `<img src=x onerror=...>` shows its characters and runs nothing.
 */
import { format4 } from "./format";

/** Show whitespace: leading/trailing spaces as `·`, newlines as `↵`, tabs as `→`. */
export function displayToken(tok: string): string {
  if (tok === "") return "∅";
  let s = tok.replace(/\r\n|\r|\n/g, "↵").replace(/\t/g, "→");
  const m = /^( *)(.*?)( *)$/s.exec(s);
  if (m) s = "·".repeat(m[1].length) + m[2] + "·".repeat(m[3].length);
  return s;
}

/** True when a token contains a line break (the layout breaks the line after it). */
export function breaksLine(tok: string): boolean {
  return /[\r\n]/.test(tok);
}

export interface TokenRenderOptions {
  /** Value of each token (the shown row), or null for uncoloured tokens. */
  values?: ArrayLike<number> | null;
  /** Offset into `values` where this row starts. */
  offset?: number;
  color?: (v: number) => string;
  text?: (v: number) => string;
  /** Extra classes per token index (e.g. continuation, greyed). */
  classes?: (i: number) => string;
}

/**
 * Build all token spans in one DocumentFragment (one insertion, one layout): each is a
 * `span.iw-token` with `data-index` and, when values are given, `data-value` (4
 * significant digits).
 */
export function renderTokens(tokens: readonly string[], opts: TokenRenderOptions = {}): { fragment: DocumentFragment; spans: HTMLSpanElement[] } {
  const fragment = document.createDocumentFragment();
  const spans: HTMLSpanElement[] = new Array(tokens.length);
  const { values, color, text, classes } = opts;
  const offset = opts.offset ?? 0;
  for (let i = 0; i < tokens.length; i++) {
    const tok = String(tokens[i]);
    const span = document.createElement("span");
    const shown = displayToken(tok);
    let cls = "iw-token";
    if (shown !== tok && /^[·↵→∅]+$/.test(shown)) cls += " iw-ws-only";
    const extra = classes?.(i);
    if (extra) cls += " " + extra;
    span.className = cls;
    span.textContent = shown;
    span.dataset.index = String(i);
    if (values) {
      const v = values[offset + i];
      span.dataset.value = format4(v);
      if (color) span.style.backgroundColor = color(v);
      if (text) span.style.color = text(v);
    }
    fragment.appendChild(span);
    if (breaksLine(tok)) fragment.appendChild(document.createElement("br"));
    spans[i] = span;
  }
  return { fragment, spans };
}

/** The token span under an event target (delegated listeners), or null. */
export function tokenFromEvent(ev: Event, root: HTMLElement): HTMLElement | null {
  const t = ev.target as Element | null;
  if (!t || typeof (t as Element).closest !== "function") return null;
  const span = t.closest(".iw-token") as HTMLElement | null;
  return span && root.contains(span) ? span : null;
}
