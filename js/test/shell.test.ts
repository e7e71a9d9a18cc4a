import { describe, expect, it } from "vitest";
import { createViewShell } from "../src/lib/shell";
import { fakeModel } from "./fake_model";

const setup = (init: Record<string, unknown> = {}) => {
  const model = fakeModel({ error: "", busy: false, progress: 0, theme: "auto", ...init });
  const el = document.createElement("div");
  document.body.appendChild(el);
  const shell = createViewShell(el, model, "iw-test", ".iw-test { color: red; }");
  return { model, el, shell };
};

describe("createViewShell", () => {
  it("lays out header, progress and the two error boxes in order, with the view's stylesheet", () => {
    const { el } = setup();
    const root = el.querySelector(".iw-root.iw-test")!;
    const kids = [...root.children].filter((c) => c.tagName !== "STYLE").map((c) => c.className);
    expect(kids).toEqual(["iw-header", "iw-progress", "iw-error iw-trait-error", "iw-error"]);
    expect([...root.querySelectorAll("style")].some((s) => s.textContent!.includes(".iw-test { color: red; }"))).toBe(true);
  });

  it("shows the error trait as Python sets it, as text", () => {
    const { model, el } = setup({ error: "first" });
    const box = el.querySelector<HTMLElement>(".iw-trait-error")!;
    expect(box.hidden).toBe(false);
    expect(box.textContent).toBe("first");
    model.push({ error: "<b>x</b>" });
    expect(box.textContent).toBe("<b>x</b>");
    expect(box.querySelector("b")).toBeNull();
    model.push({ error: "" });
    expect(box.hidden).toBe(true);
  });

  it("addPair appends key and value as text", () => {
    const { shell } = setup();
    shell.addPair("target", "<i>Paris</i>", "iw-extra");
    const pair = shell.summary.querySelector(".iw-extra")!;
    expect(pair.querySelector(".iw-k")!.textContent).toBe("target");
    expect(pair.querySelector(".iw-v")!.textContent).toBe("<i>Paris</i>");
  });

  it("syncBusy mirrors busy and progress", () => {
    const { model, shell } = setup();
    expect(shell.syncBusy()).toBe(false);
    expect(shell.progress.el.hidden).toBe(true);
    model.push({ busy: true, progress: 0.42 });
    expect(shell.syncBusy()).toBe(true);
    expect(shell.root.dataset.busy).toBe("true");
    expect(shell.progress.el.hidden).toBe(false);
    expect(shell.progress.el.textContent).toContain("42%");
  });

  it("theme() applies the theme trait to the root", () => {
    const { model, shell } = setup({ theme: "dark" });
    expect(shell.theme().option).toBe("dark");
    expect(shell.root.dataset.iwTheme).toBe("dark");
    expect(shell.theme().dark).toBe(true);
    model.push({ theme: "light" });
    expect(shell.theme().dark).toBe(false);
  });

  it("dispose removes model handlers, DOM listeners, runs cleanups and removes the root", () => {
    const { model, el, shell } = setup();
    let clicks = 0;
    let handled = 0;
    let cleaned = 0;
    const button = document.createElement("button");
    shell.root.appendChild(button);
    shell.listen(button, "click", () => clicks++);
    shell.listen(document, "keydown", () => clicks++);
    shell.on("change:busy", () => handled++);
    shell.cleanup(() => cleaned++);
    button.click();
    model.push({ busy: true });
    expect([clicks, handled]).toEqual([1, 1]);
    expect(model.listenerCount()).toBe(2); // error + busy

    shell.dispose();
    button.click();
    document.dispatchEvent(new KeyboardEvent("keydown"));
    model.push({ busy: false });
    expect([clicks, handled, cleaned]).toEqual([1, 1, 1]);
    expect(model.listenerCount()).toBe(0);
    expect(el.querySelector(".iw-root")).toBeNull();
  });
});
