/** Two columns of tokens with a value each ("promotes" / "suppresses"): the direct logit
 * effects of a neuron or an SAE feature's decoder direction. */
import { formatShort } from "./format";
import { displayToken } from "./tokens";

/** The list's CSS, scoped under `scope` (the view's root class, e.g. ".iw-neuron"). */
export function logitListCss(scope: string): string {
  return `
${scope} .iw-logits { display: flex; gap: 24px; }
${scope} .iw-logit-list { list-style: none; margin: 0; padding: 0; font-family: var(--iw-mono); font-size: 12px; }
${scope} .iw-logit-list li { display: flex; justify-content: space-between; gap: 12px; line-height: 1.6; }
${scope} .iw-logit-token { white-space: pre; padding: 0 3px; border-radius: 3px; background: var(--iw-panel); }
${scope} .iw-logit-value { color: var(--iw-muted); }
${scope} .iw-pos .iw-logit-value { color: var(--iw-accent); }
${scope} .iw-neg .iw-logit-value { color: var(--iw-error-fg); }
`;
}

/** One column: a heading `name`, then each token (whitespace made visible) with its value.
 * `cls` is "iw-pos" or "iw-neg" (value colour). Token text is set as text, never as HTML. */
export function renderLogitList(
  name: string,
  cls: string,
  tokens: string[],
  values: ArrayLike<number> | null,
): HTMLDivElement {
  const col = document.createElement("div");
  const h = document.createElement("div");
  h.className = "iw-k";
  h.textContent = name;
  const ul = document.createElement("ul");
  ul.className = `iw-logit-list ${cls}`;
  tokens.forEach((tok, i) => {
    const li = document.createElement("li");
    const t = document.createElement("span");
    t.className = "iw-logit-token";
    t.textContent = displayToken(tok);
    const v = document.createElement("span");
    v.className = "iw-logit-value";
    v.textContent = values && i < values.length ? formatShort(values[i]) : "";
    li.append(t, v);
    ul.appendChild(li);
  });
  col.append(h, ul);
  return col;
}
