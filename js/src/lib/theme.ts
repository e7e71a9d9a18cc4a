/**
 * Theme: every colour the views use is a `--iw-*` CSS variable, resolved from the host's
 * own variables (`--jp-*` in JupyterLab, `--vscode-*` in VS Code), else from
 * `prefers-color-scheme`, else light. The `theme` trait can force "light" or "dark".
 * Colour scales need the actual background colour, so views read it back after layout and
 * watch the host for theme switches (body attributes/classes, the OS colour scheme).
 */
import { isDarkColor } from "./scale";

const LIGHT = {
  bg: "#ffffff",
  fg: "#1f2328",
  muted: "#6e7781",
  border: "#d0d7de",
  accent: "#0969da",
  panel: "#f6f8fa",
  errorBg: "#ffebe9",
  errorFg: "#a40e26",
  tipBg: "#1f2328",
  tipFg: "#ffffff",
};
const DARK = {
  bg: "#1e1e1e",
  fg: "#e6edf3",
  muted: "#8b949e",
  border: "#3d444d",
  accent: "#4493f8",
  panel: "#262c36",
  errorBg: "#3c1618",
  errorFg: "#ff8182",
  tipBg: "#e6edf3",
  tipFg: "#1f2328",
};

type Palette = typeof LIGHT;

function vars(p: Palette, host: boolean): string {
  // With `host`, host variables win and the palette is only the fallback.
  const v = (jp: string | null, vs: string | null, val: string) => {
    if (!host) return val;
    let out = val;
    if (vs) out = `var(${vs}, ${out})`;
    if (jp) out = `var(${jp}, ${out})`;
    return out;
  };
  return `
  --iw-bg: ${v("--jp-layout-color0", "--vscode-editor-background", p.bg)};
  --iw-fg: ${v("--jp-content-font-color1", "--vscode-editor-foreground", p.fg)};
  --iw-muted: ${v("--jp-content-font-color3", "--vscode-descriptionForeground", p.muted)};
  --iw-border: ${v("--jp-border-color2", "--vscode-widget-border", p.border)};
  --iw-accent: ${v("--jp-brand-color1", "--vscode-focusBorder", p.accent)};
  --iw-panel: ${v("--jp-layout-color2", "--vscode-editorWidget-background", p.panel)};
  --iw-error-bg: ${v(null, "--vscode-inputValidation-errorBackground", p.errorBg)};
  --iw-error-fg: ${v("--jp-error-color1", "--vscode-errorForeground", p.errorFg)};
  --iw-tip-bg: ${v(null, "--vscode-editorHoverWidget-background", p.tipBg)};
  --iw-tip-fg: ${v(null, "--vscode-editorHoverWidget-foreground", p.tipFg)};
  --iw-mono: ${v("--jp-code-font-family", "--vscode-editor-font-family", "ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace")};
  --iw-ui: ${v("--jp-ui-font-family", "--vscode-font-family", "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif")};
  color-scheme: ${p === DARK ? "dark" : "light"};`;
}

/** The stylesheet shared by all views (scoped under `.iw-root`). */
export const CSS = `
.iw-root {${vars(LIGHT, true)}
  position: relative; box-sizing: border-box; padding: 10px 12px; border-radius: 6px;
  background: var(--iw-bg); color: var(--iw-fg); font-family: var(--iw-ui); font-size: 13px;
  line-height: 1.4; text-align: left;
}
@media (prefers-color-scheme: dark) {
  .iw-root {${vars(DARK, true)} }
  /* Inside JupyterLab/VS Code, the host's variables above still win. */
}
.iw-root[data-iw-theme="light"] {${vars(LIGHT, false)} }
.iw-root[data-iw-theme="dark"] {${vars(DARK, false)} }
/* VS Code paints widget outputs on a hard-coded white background: let ours show instead. */
.cell-output-ipywidget-background:has(.iw-root) { background-color: var(--vscode-editor-background, transparent) !important; }
.iw-header { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 16px; margin-bottom: 8px; }
.iw-title { font-weight: 600; font-size: 14px; }
.iw-summary { display: flex; flex-wrap: wrap; gap: 4px 14px; color: var(--iw-fg); }
.iw-summary .iw-k { color: var(--iw-muted); margin-right: 4px; }
.iw-summary .iw-v { font-family: var(--iw-mono); }
.iw-legend { display: inline-flex; align-items: center; gap: 6px; font-size: 11px; color: var(--iw-muted); font-family: var(--iw-mono); }
.iw-legend-bar { width: 140px; height: 10px; border-radius: 2px; border: 1px solid var(--iw-border); }
.iw-legend-label { font-family: var(--iw-ui); }
.iw-body { max-height: 520px; overflow: auto; }
.iw-grid { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 6px 10px; align-items: start; }
.iw-grid.iw-single { grid-template-columns: minmax(0, 1fr); }
.iw-row-label { font-size: 12px; color: var(--iw-muted); padding-top: 3px; white-space: nowrap; max-width: 16em; overflow: hidden; text-overflow: ellipsis;
  position: sticky; top: 0; align-self: start; }
.iw-chunk { content-visibility: auto; }
.iw-tokens { font-family: var(--iw-mono); font-size: 13px; line-height: 1.9; word-break: normal; }
.iw-token { display: inline-block; white-space: pre-wrap; overflow-wrap: anywhere; max-width: 100%; box-sizing: border-box; padding: 0 2px; margin: 0 1px 1px 0; border-radius: 3px;
  line-height: 1.45; cursor: default; min-width: 0.6em; text-align: center; }
.iw-token:hover { box-shadow: 0 0 0 1px var(--iw-fg); }
.iw-token.iw-selected { box-shadow: 0 0 0 2px var(--iw-accent); }
.iw-attribution .iw-token.iw-cont { box-shadow: inset 0 -2px 0 var(--iw-accent); }
.iw-attribution[data-interactive="true"]:not([data-busy="true"]) .iw-token.iw-cont { cursor: pointer; }
.iw-attribution .iw-token.iw-after { opacity: 0.45; }
.iw-attribution .iw-token.iw-cont:focus-visible { outline: 2px dashed var(--iw-accent); outline-offset: 1px; }
.iw-attribution .iw-token.iw-target, .iw-attribution .iw-next { outline: 2px solid var(--iw-accent); outline-offset: 1px; opacity: 1; }
.iw-next { display: inline-block; white-space: pre; padding: 0 3px; margin-left: 4px; border-radius: 3px;
  border: 1px dashed var(--iw-accent); font-family: var(--iw-mono); color: var(--iw-fg); line-height: 1.45; }
.iw-next::before { content: "→ "; color: var(--iw-muted); }
.iw-attribution[data-busy="true"] .iw-tokens { opacity: 0.6; cursor: progress; }
.iw-hint { margin-top: 6px; font-size: 11px; color: var(--iw-muted); }
.iw-method, .iw-row-select { font: inherit; font-size: 12px; color: var(--iw-fg); background: var(--iw-panel);
  border: 1px solid var(--iw-border); border-radius: 4px; padding: 1px 4px; }
.iw-error { margin: 6px 0; padding: 6px 10px; border-radius: 4px; border-left: 3px solid var(--iw-error-fg);
  background: var(--iw-error-bg); color: var(--iw-error-fg); white-space: pre-wrap; font-family: var(--iw-mono); font-size: 12px; }
.iw-error[hidden], .iw-progress[hidden], .iw-hint[hidden] { display: none; }
.iw-progress { display: flex; align-items: center; gap: 8px; margin: 4px 0 8px; font-size: 11px; color: var(--iw-muted); }
.iw-progress-track { box-sizing: border-box; flex: 0 0 200px; height: 6px; border-radius: 3px; background: var(--iw-panel); border: 1px solid var(--iw-border); overflow: hidden; }
.iw-progress-bar { height: 100%; width: 0; background: var(--iw-accent); transition: width 0.15s linear; }
.iw-tooltip { position: absolute; z-index: 10; pointer-events: none; padding: 4px 8px; border-radius: 4px;
  background: var(--iw-tip-bg); color: var(--iw-tip-fg); font-size: 12px; white-space: pre; box-shadow: 0 2px 8px rgba(0,0,0,0.25); }
.iw-tooltip[hidden] { display: none; }
.iw-tooltip .iw-tip-token { font-family: var(--iw-mono); font-weight: 600; }
`;

export type ThemeOption = "auto" | "light" | "dark";

// Each view bundle has its own copy of this module: a counter alone would collide between
// a heatmap and an attribution view on one page, so the id also carries a random part.
let uid = 0;
const session = Math.random().toString(36).slice(2, 8);

/**
 * Create the root element of a view with its stylesheet, and a second stylesheet for the
 * colour classes of the current scale (`setScaleCss`).
 */
export function createRoot(el: HTMLElement, cls: string): HTMLDivElement {
  const root = document.createElement("div");
  root.className = `iw-root ${cls}`;
  root.dataset.iwUid = `${cls}-${session}-${++uid}`;
  const style = document.createElement("style");
  style.textContent = CSS;
  const scaleStyle = document.createElement("style");
  scaleStyle.className = "iw-scale-style";
  root.append(style, scaleStyle);
  el.appendChild(root);
  return root;
}

/** Install the colour-bin rules of a scale (see ColorScale.css), scoped to this root. */
export function setScaleCss(root: HTMLElement, scale: { css(prefix: string): string } | null): void {
  const style = root.querySelector("style.iw-scale-style");
  if (style) style.textContent = scale ? scale.css(`.iw-root[data-iw-uid="${root.dataset.iwUid}"]`) : "";
}

export interface ResolvedTheme {
  dark: boolean;
  background: string;
  foreground: string;
}

/** Read the background/foreground the root actually paints with. */
export function resolveTheme(root: HTMLElement, option: ThemeOption): ResolvedTheme {
  const fallback = option === "dark" ? DARK : LIGHT;
  let background = "";
  let foreground = "";
  try {
    const cs = getComputedStyle(root);
    background = cs.backgroundColor;
    foreground = cs.color;
  } catch {
    /* not in a browser */
  }
  if (!background || background === "transparent" || /rgba\(.*,\s*0\)$/.test(background) || background.includes("var(")) {
    background = fallback.bg;
  }
  if (!foreground || foreground.includes("var(")) foreground = fallback.fg;
  let dark: boolean;
  if (option === "light") dark = false;
  else if (option === "dark") dark = true;
  else dark = isDarkColor(background);
  return { dark, background, foreground };
}

/**
 * Call `onChange` when the host theme may have changed: JupyterLab's
 * `data-jp-theme-*` and VS Code's `vscode-*` body classes, inline styles, and the OS colour
 * scheme. Returns a function that stops watching.
 */
export function watchTheme(onChange: () => void): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const fire = () => {
    onChange();
    // Stylesheets of the new theme may land a little after the attribute flips.
    clearTimeout(timer);
    timer = setTimeout(onChange, 150);
  };
  const observers: MutationObserver[] = [];
  if (typeof MutationObserver !== "undefined") {
    for (const target of [document.documentElement, document.body]) {
      if (!target) continue;
      const mo = new MutationObserver(fire);
      mo.observe(target, {
        attributes: true,
        attributeFilter: ["class", "style", "data-jp-theme-light", "data-jp-theme-name", "data-vscode-theme-kind"],
      });
      observers.push(mo);
    }
  }
  const mq = typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: dark)") : null;
  mq?.addEventListener?.("change", fire);
  return () => {
    observers.forEach((o) => o.disconnect());
    mq?.removeEventListener?.("change", fire);
    clearTimeout(timer);
  };
}
