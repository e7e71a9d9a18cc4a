/**
 * Token rendering. Token text is set with `textContent` only (never innerHTML), so a token
 * such as `<img src=x onerror=...>` shows its characters and runs nothing.
 */
import { format4 } from "./format";

/** Show whitespace: leading/trailing spaces as `·`, newlines as `↵`, tabs as `→`. */
/** Characters that draw nothing or reorder the text around them: no-break and other
 * spaces, zero-width ones, direction marks and overrides (U+202E would show "desrever"),
 * separators and the BOM. Shown as a mark (NBSP) or their code point. The zero-width joiner
 * stays inside a token with other characters (it builds emoji such as 👩‍💻). */
const INVISIBLE = /[\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]/g;

const codePoint = (c: string) => `‹U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}›`;

export function displayToken(tok: string): string {
  if (tok === "") return "∅";
  if (!/[\s\u200b-\u200f\u202a-\u202e\u2060-\u206f]/.test(tok)) return tok; // fast path: nothing to show
  let s = tok.replace(/\r\n|\r|\n/g, "↵").replace(/\t/g, "→");
  const joinerOnly = /^\u200d+$/.test(s);
  s = s.replace(INVISIBLE, (c) => (c === "\u00a0" ? "⍽" : c === "\u200d" && !joinerOnly ? c : codePoint(c)));
  const m = /^( *)(.*?)( *)$/s.exec(s);
  if (m) s = "·".repeat(m[1].length) + m[2] + "·".repeat(m[3].length);
  return s;
}

/** True when a token contains a line break (the layout breaks the line after it). */
export function breaksLine(tok: string): boolean {
  return tok.indexOf("\n") >= 0 || tok.indexOf("\r") >= 0;
}

export interface TokenRenderOptions {
  /** Value of each token (the shown row), or null for uncoloured tokens. */
  values?: ArrayLike<number> | null;
  /** Offset into `values` where this row starts. */
  offset?: number;
  /** Colour bin of a value (class `iw-c<bin>`, see ColorScale.css). */
  bin?: (v: number) => number;
  /** Tokens that get a value but no colour (e.g. not inputs to the target). */
  uncoloured?: (i: number) => boolean;
  /** Extra classes per token index (e.g. continuation, greyed). */
  classes?: (i: number) => string;
}

/** Chunks end after a line break once this many tokens are in, or at the hard cap. */
export const CHUNK_MIN = 400;
export const CHUNK_MAX = 1200;

/**
 * Build all token spans in one DocumentFragment (one insertion, one layout): each is a
 * `span.iw-token` with `data-index` and, when values are given, `data-value` (4
 * significant digits). Colours come from per-bin classes so that no span carries an inline
 * style (10,000 style parses would dominate building the DOM).
 *
 * Long texts are split into `div.iw-chunk` blocks (at line breaks where possible) with
 * `content-visibility: auto`, so the browser lays out and paints only the chunks on screen:
 * 10,000 tokens cost about as much as the first screenful.
 */
export function renderTokens(tokens: readonly string[], opts: TokenRenderOptions = {}): { fragment: DocumentFragment; spans: HTMLSpanElement[] } {
  const fragment = document.createDocumentFragment();
  const spans: HTMLSpanElement[] = new Array(tokens.length);
  const { values, bin, classes, uncoloured } = opts;
  const offset = opts.offset ?? 0;
  const proto = document.createElement("span");
  const chunked = tokens.length > CHUNK_MIN;
  let chunk: DocumentFragment | HTMLDivElement = fragment;
  let inChunk = 0;
  const newChunk = () => {
    const div = document.createElement("div");
    div.className = "iw-chunk";
    fragment.appendChild(div);
    chunk = div;
    inChunk = 0;
  };
  if (chunked) newChunk();
  for (let i = 0; i < tokens.length; i++) {
    const tok = String(tokens[i]);
    const span = proto.cloneNode(false) as HTMLSpanElement;
    const shown = displayToken(tok);
    let cls = "iw-token";
    if (classes) {
      const extra = classes(i);
      if (extra) cls += " " + extra;
    }
    span.textContent = shown;
    span.setAttribute("data-index", String(i));
    if (values) {
      const v = values[offset + i];
      span.setAttribute("data-value", format4(v));
      if (bin && !uncoloured?.(i)) cls += " iw-c" + bin(v);
    }
    span.className = cls;
    chunk.appendChild(span);
    spans[i] = span;
    inChunk++;
    const br = breaksLine(tok);
    if (chunked && i < tokens.length - 1 && ((br && inChunk >= CHUNK_MIN) || inChunk >= CHUNK_MAX)) {
      if (chunk instanceof HTMLDivElement) sizeChunk(chunk, inChunk);
      newChunk();
    } else if (br) {
      chunk.appendChild(document.createElement("br"));
    }
  }
  if (chunked && chunk instanceof HTMLDivElement) sizeChunk(chunk, inChunk);
  return { fragment, spans };
}

/** A placeholder height for a chunk not laid out yet (the browser remembers real ones). */
function sizeChunk(div: HTMLDivElement, n: number): void {
  div.style.containIntrinsicSize = `auto ${Math.ceil(n / 12) * 24}px`;
}

/** The token span under an event target (delegated listeners), or null. */
export function tokenFromEvent(ev: Event, root: HTMLElement): HTMLElement | null {
  const t = ev.target as Element | null;
  if (!t || typeof (t as Element).closest !== "function") return null;
  const span = t.closest(".iw-token") as HTMLElement | null;
  return span && root.contains(span) ? span : null;
}
