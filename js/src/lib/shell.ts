/**
 * The frame every view shares, and its bookkeeping.
 *
 * Frame: a root (`createRoot`, plus the view's own stylesheet), then a header line (title and
 * a summary of key/value pairs), a progress bar, the error box for the `error` trait Python
 * sets (`.iw-trait-error`) and the error box for problems the view finds in its data. The
 * view appends its body after them.
 *
 * Bookkeeping: model handlers (`on`), DOM listeners (`listen`) and other disposers
 * (`cleanup`) are undone by `dispose`, which also removes the root. The `error` trait is
 * shown as it changes. `theme()` resolves the colours the root paints with and remembers
 * the background; `watchTheme(redraw)` calls `redraw` when a host theme switch changes it.
 */
import { createErrorBox } from "./error";
import { createProgress } from "./progress";
import { createRoot, resolveTheme, watchTheme, type ResolvedTheme, type ThemeOption } from "./theme";

/** The part of anywidget's model the shell uses. */
interface ShellModel {
  get(key: string): unknown;
  on(event: string, fn: () => void): void;
  off(event: string, fn: () => void): void;
}

export interface ShellOptions {
  /** Put a progress bar under the header (default true). */
  progress?: boolean;
}

export interface ViewShell {
  root: HTMLDivElement;
  header: HTMLDivElement;
  title: HTMLDivElement;
  summary: HTMLDivElement;
  progress: ReturnType<typeof createProgress>;
  dataError: ReturnType<typeof createErrorBox>;
  traitError: ReturnType<typeof createErrorBox>;
  /** Append `key value` to the summary (text only). */
  addPair(key: string, value: string, cls?: string): HTMLSpanElement;
  /** `model.on(event, fn)`, undone by `dispose`. */
  on(event: string, fn: () => void): void;
  /** `target.addEventListener(type, fn)`, undone by `dispose`. */
  listen<E extends Event = Event>(target: EventTarget, type: string, fn: (ev: E) => void): void;
  /** Run `fn` on `dispose` (before the root is removed). */
  cleanup(fn: () => void): void;
  /** The `theme` trait applied to the root, and the colours it paints with (remembered). */
  theme(): ResolvedTheme & { option: ThemeOption };
  /** Call `redraw` when the host's theme changes the painted background. */
  watchTheme(redraw: () => void): void;
  /** `root.dataset.busy` and the progress bar from the `busy` and `progress` traits; returns busy. */
  syncBusy(): boolean;
  dispose(): void;
}

/** `<span class={cls}><span class="iw-k">key</span><span class="iw-v">value</span></span>`, text only. */
export function createPair(key: string, value: string, cls = ""): HTMLSpanElement {
  const wrap = document.createElement("span");
  if (cls) wrap.className = cls;
  const k = document.createElement("span");
  k.className = "iw-k";
  k.textContent = key;
  const v = document.createElement("span");
  v.className = "iw-v";
  v.textContent = value;
  wrap.append(k, v);
  return wrap;
}

export function createViewShell(el: HTMLElement, model: ShellModel, cls: string, css = "",
  options: ShellOptions = {}): ViewShell {
  const root = createRoot(el, cls);
  if (css) {
    const style = document.createElement("style");
    style.textContent = css;
    root.appendChild(style);
  }
  const header = document.createElement("div");
  header.className = "iw-header";
  const title = document.createElement("div");
  title.className = "iw-title";
  const summary = document.createElement("div");
  summary.className = "iw-summary";
  header.append(title, summary);
  const progress = createProgress();
  const dataError = createErrorBox();
  const traitError = createErrorBox();
  traitError.el.classList.add("iw-trait-error");
  root.append(header);
  if (options.progress !== false) root.append(progress.el);
  root.append(traitError.el, dataError.el);

  const disposers: (() => void)[] = [];
  let lastBackground = "";
  const themeOption = () => (model.get("theme") || "auto") as ThemeOption;

  const shell: ViewShell = {
    root, header, title, summary, progress, dataError, traitError,
    addPair(key, value, pairCls = "") {
      return summary.appendChild(createPair(key, value, pairCls));
    },
    on(event, fn) {
      model.on(event, fn);
      disposers.push(() => model.off(event, fn));
    },
    listen(target, type, fn) {
      const listener = fn as EventListener;
      target.addEventListener(type, listener);
      disposers.push(() => target.removeEventListener(type, listener));
    },
    cleanup(fn) {
      disposers.push(fn);
    },
    theme() {
      const option = themeOption();
      root.dataset.iwTheme = option;
      const resolved = resolveTheme(root, option);
      lastBackground = resolved.background;
      return { ...resolved, option };
    },
    watchTheme(redraw) {
      disposers.push(watchTheme(() => {
        if (resolveTheme(root, themeOption()).background !== lastBackground) redraw();
      }));
    },
    syncBusy() {
      const busy = !!model.get("busy");
      root.dataset.busy = String(busy);
      progress.set(busy, Number(model.get("progress") ?? 0));
      return busy;
    },
    dispose() {
      for (const fn of disposers.splice(0).reverse()) fn();
      root.remove();
    },
  };
  const showTraitError = () => traitError.set(model.get("error") as string | undefined);
  shell.on("change:error", showTraitError);
  showTraitError();
  return shell;
}
