import { afterEach, describe, expect, it } from "vitest";
import attribution, { type AttributionModel } from "../src/views/attribution";
import widget, { type ExplorerBarModel } from "../src/views/explorer";
import { f32, fakeModel } from "./fake_model";

const XSS = '<img src=x onerror="window.__xss=1">';

function setup(patch: Partial<ExplorerBarModel> = {}) {
  const model = fakeModel<ExplorerBarModel>({
    prompt: "The cat",
    max_new_tokens: 3,
    run_request: 0,
    tokens: ["The", " cat", " sat", XSS, "\n"],
    prompt_len: 2,
    selected_token: 1,
    target_position: 2,
    status: "3 new tokens",
    busy: false,
    progress: 0,
    error: "",
    interactive: true,
    theme: "auto",
    ...patch,
  });
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = widget.render({ model, el });
  return { model, el, cleanup };
}

const spans = (el: HTMLElement) => [...el.querySelectorAll<HTMLElement>(".iw-strip .iw-token")];

afterEach(() => {
  document.body.replaceChildren();
});

describe("Explorer bar", () => {
  it("shows the prompt, the strip with prompt and continuation tokens, selection and target", () => {
    const { el } = setup();
    expect(el.querySelector<HTMLTextAreaElement>(".iw-prompt")!.value).toBe("The cat");
    expect(el.querySelector<HTMLInputElement>(".iw-max-new")!.value).toBe("3");
    const s = spans(el);
    expect(s.map((x) => x.textContent)).toEqual(["The", "·cat", "·sat", XSS, "↵"]);
    expect(s.filter((x) => x.classList.contains("iw-cont")).map((x) => x.dataset.index)).toEqual(["2", "3", "4"]);
    expect(s[1].classList.contains("iw-selected")).toBe(true);
    expect(s[2].classList.contains("iw-target")).toBe(true);
    const opts = [...el.querySelectorAll<HTMLOptionElement>(".iw-target-select option")];
    expect(opts.map((o) => o.value)).toEqual(["2", "3", "4"]);
    expect(el.querySelector(".iw-status")!.textContent).toBe("3 new tokens");
  });

  it("never runs markup from tokens", () => {
    const { el } = setup();
    expect(el.querySelector("img")).toBeNull();
    expect((globalThis as Record<string, unknown>).__xss).toBeUndefined();
  });

  it("click selects a token (and again deselects); shift-click on a continuation token sets the target", () => {
    const { el, model } = setup();
    spans(el)[3].dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(model.get("selected_token")).toBe(3);
    expect(spans(el)[3].classList.contains("iw-selected")).toBe(true);
    expect(spans(el)[1].classList.contains("iw-selected")).toBe(false);
    spans(el)[3].dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(model.get("selected_token")).toBe(-1);
    spans(el)[4].dispatchEvent(new MouseEvent("click", { bubbles: true, shiftKey: true }));
    expect(model.get("target_position")).toBe(4);
    expect(spans(el)[4].classList.contains("iw-target")).toBe(true);
    spans(el)[0].dispatchEvent(new MouseEvent("click", { bubbles: true, shiftKey: true }));
    expect(model.get("target_position")).toBe(4); // a prompt token is never a target
    expect(model.get("selected_token")).toBe(0);
  });

  it("the target selector sets target_position", () => {
    const { el, model } = setup();
    const sel = el.querySelector<HTMLSelectElement>(".iw-target-select")!;
    sel.value = "3";
    sel.dispatchEvent(new Event("change"));
    expect(model.get("target_position")).toBe(3);
  });

  it("Run sends the prompt and a request; Ctrl+Enter too; disabled while busy", () => {
    const { el, model } = setup();
    const ta = el.querySelector<HTMLTextAreaElement>(".iw-prompt")!;
    ta.value = "A new prompt";
    ta.dispatchEvent(new Event("input"));
    el.querySelector<HTMLInputElement>(".iw-max-new")!.value = "5";
    el.querySelector<HTMLButtonElement>(".iw-run")!.click();
    expect(model.get("prompt")).toBe("A new prompt");
    expect(model.get("max_new_tokens")).toBe(5);
    expect(model.get("run_request")).toBe(1);
    ta.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", ctrlKey: true, bubbles: true }));
    expect(model.get("run_request")).toBe(2);
    model.push({ busy: true, progress: 0.5, status: "generating… 1/2" });
    expect(el.querySelector<HTMLButtonElement>(".iw-run")!.disabled).toBe(true);
    expect(el.querySelector<HTMLElement>(".iw-progress")!.hidden).toBe(false);
    el.querySelector<HTMLButtonElement>(".iw-run")!.click();
    expect(model.get("run_request")).toBe(2);
  });

  it("follows Python: new tokens, selection, errors; static pages disable the form", () => {
    const { el, model } = setup({ interactive: false });
    expect(el.querySelector<HTMLButtonElement>(".iw-run")!.disabled).toBe(true);
    expect(el.querySelector<HTMLTextAreaElement>(".iw-prompt")!.disabled).toBe(true);
    model.push({ tokens: ["A", " b"], prompt_len: 1, selected_token: 0, target_position: 1 });
    expect(spans(el).map((x) => x.textContent)).toEqual(["A", "·b"]);
    expect(spans(el)[0].classList.contains("iw-selected")).toBe(true);
    model.push({ error: "ValueError: the prompt is empty" });
    const err = el.querySelector<HTMLElement>(".iw-error")!;
    expect(err.hidden).toBe(false);
    expect(err.textContent).toContain("prompt is empty");
    model.push({ tokens: [], prompt_len: 0 });
    expect(el.querySelector(".iw-empty")!.textContent).toContain("Run");
  });

  it("cleanup removes every listener and the DOM", () => {
    const { el, model, cleanup } = setup();
    cleanup();
    expect(model.listenerCount()).toBe(0);
    expect(el.querySelector(".iw-explorer-bar")).toBeNull();
  });
});

describe("AttributionWidget follows the linked selection", () => {
  it("highlights selected_token without changing the target", () => {
    const model = fakeModel<AttributionModel>({
      tokens: ["The", " cat", " sat"], scores: f32([0.1, 0.5, 0]) as AttributionModel["scores"],
      row_labels: ["' sat'"], prompt_len: 2, target_position: 2, target_positions: [2],
      target_label: "' sat'", method: "saliency", methods: ["saliency"], delta: null, n_evals: 1,
      busy: false, progress: 0, error: "", interactive: true, theme: "auto", selected_token: 1,
    });
    const el = document.createElement("div");
    document.body.appendChild(el);
    const cleanup = attribution.render({ model, el });
    const sel = () => [...el.querySelectorAll<HTMLElement>(".iw-token.iw-selected")].map((s) => s.dataset.index);
    expect(sel()).toEqual(["1"]);
    model.push({ selected_token: 0 });
    expect(sel()).toEqual(["0"]);
    model.push({ selected_token: -1 });
    expect(sel()).toEqual([]);
    expect(model.get("target_position")).toBe(2);
    cleanup();
    expect(model.listenerCount()).toBe(0);
  });
});
