import { afterEach, describe, expect, it } from "vitest";
import widget, { type AttributionModel } from "../src/views/attribution";
import { f32, fakeModel, tick } from "./fake_model";

const TOKENS = ["The", " Eiffel", " Tower", " is", " in", " Paris", ",", " France"];

function setup(patch: Partial<AttributionModel> = {}) {
  const model = fakeModel<AttributionModel>({
    tokens: TOKENS,
    scores: f32([0.1, 0.8, 0.5, -0.2, 0.05, 0, 0, 0]) as AttributionModel["scores"],
    row_labels: ["' Paris'"],
    prompt_len: 5,
    target_position: 5,
    target_positions: [5],
    target_label: "' Paris'",
    method: "integrated_gradients",
    methods: ["integrated_gradients", "saliency", "occlusion"],
    delta: 0.0012,
    n_evals: 64,
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

afterEach(() => {
  document.body.replaceChildren();
});

describe("AttributionWidget view", () => {
  it("renders tokens, continuation, target and header", () => {
    const { el } = setup();
    const root = el.querySelector<HTMLElement>(".iw-attribution")!;
    expect(root.dataset.targetPosition).toBe("5");
    expect(root.dataset.method).toBe("integrated_gradients");
    const spans = el.querySelectorAll<HTMLElement>(".iw-token[data-index][data-value]");
    expect(spans).toHaveLength(8);
    expect(el.querySelectorAll(".iw-cont")).toHaveLength(3);
    expect(spans[5].classList.contains("iw-target")).toBe(true);
    expect(spans[6].classList.contains("iw-after")).toBe(true);
    expect(spans[4].classList.contains("iw-after")).toBe(false);
    const header = el.querySelector(".iw-header")!.textContent!;
    expect(header).toContain("' Paris'");
    expect(header).toContain("0.0012");
    expect(header).toContain("64");
    const select = el.querySelector<HTMLSelectElement>("select.iw-method")!;
    expect(select.hidden).toBe(false);
    expect(select.options).toHaveLength(3);
  });

  it("clicking a continuation token sets target_position", () => {
    const { el, model } = setup();
    const spans = el.querySelectorAll<HTMLElement>(".iw-token");
    spans[1].click(); // prompt token: nothing
    expect(model.saved).toBe(0);
    spans[7].click();
    expect(model.get("target_position")).toBe(7);
    expect(model.saved).toBe(1);
  });

  it("continuation tokens are keyboard buttons", () => {
    const { el, model } = setup();
    const span = el.querySelectorAll<HTMLElement>(".iw-token")[6];
    expect(span.getAttribute("role")).toBe("button");
    expect(span.tabIndex).toBe(0);
    span.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.get("target_position")).toBe(6);
  });

  it("two views on one page keep separate colour rules", async () => {
    const heat = await import("../src/views/token_heatmap");
    const { el } = setup();
    const other = document.createElement("div");
    document.body.appendChild(other);
    const m2 = fakeModel({ tokens: ["a"], values: f32([1]), row_labels: [], scale: "auto", value_range: null,
      title: "", theme: "auto", selected_token: -1, error: "" });
    heat.default.render({ model: m2 as never, el: other });
    const a = el.querySelector<HTMLElement>(".iw-root")!.dataset.iwUid;
    const b = other.querySelector<HTMLElement>(".iw-root")!.dataset.iwUid;
    expect(a).not.toBe(b);
    expect(el.querySelector(".iw-scale-style")!.textContent).toContain(`[data-iw-uid="${a}"]`);
  });

  it("the method selector sets method", () => {
    const { el, model } = setup();
    const select = el.querySelector<HTMLSelectElement>("select.iw-method")!;
    select.value = "saliency";
    select.dispatchEvent(new Event("change"));
    expect(model.get("method")).toBe("saliency");
    expect(model.saved).toBe(1);
  });

  it("shows progress and ignores clicks while busy", () => {
    const { el, model } = setup();
    model.push({ busy: true, progress: 0.42 });
    const prog = el.querySelector<HTMLElement>(".iw-progress")!;
    expect(prog.hidden).toBe(false);
    expect(prog.textContent).toContain("42%");
    expect(el.querySelector<HTMLSelectElement>(".iw-method")!.disabled).toBe(true);
    el.querySelectorAll<HTMLElement>(".iw-token")[7].click();
    expect(model.saved).toBe(0);
    model.push({ busy: false });
    expect(prog.hidden).toBe(true);
  });

  it("static results: clicks do nothing and the selector is hidden", () => {
    const { el, model } = setup({ interactive: false, methods: ["saliency"], method: "saliency" });
    el.querySelectorAll<HTMLElement>(".iw-token")[7].click();
    expect(model.saved).toBe(0);
    expect(el.querySelector<HTMLSelectElement>(".iw-method")!.hidden).toBe(true);
    expect(el.querySelector(".iw-header")!.textContent).toContain("saliency");
  });

  it("next-token targets show the label as a pseudo-token", () => {
    const { el } = setup({ prompt_len: 8, target_position: 8, target_positions: [8] });
    const next = el.querySelector(".iw-next")!;
    expect(next.textContent).toBe("' Paris'");
    expect(el.querySelectorAll(".iw-after")).toHaveLength(0);
  });

  it("encoders (causal false): every token is an input, the target's own and the later ones too", () => {
    const tokens = ["[CLS]", "paris", "is", "the", "[MASK]", "of", "france", "[SEP]"];
    const { el } = setup({
      tokens,
      scores: f32([0, 0.1, 0.05, 0.02, 0.3, 0.2, 0.9, -0.1]) as AttributionModel["scores"],
      prompt_len: 8,
      target_position: 4,
      target_positions: [4],
      target_label: "'capital'",
      causal: false,
      interactive: false,
    });
    const spans = el.querySelectorAll<HTMLElement>(".iw-token[data-index]");
    expect(el.querySelectorAll(".iw-after")).toHaveLength(0);
    expect(spans[4].classList.contains("iw-target")).toBe(true);
    const colour = (sp: HTMLElement) => [...sp.classList].find((c) => /^iw-c\d+$/.test(c));
    // tokens after the mask are coloured, and the largest score (" france", after it) sets the scale's end
    for (const i of [5, 6, 7]) expect(colour(spans[i])).toBeDefined();
    const bins = [...spans].map((sp) => Number((colour(sp) ?? "iw-c0").slice(4)));
    expect(bins[6]).toBe(Math.max(...bins));
    expect(el.querySelector(".iw-next")).toBeNull();
    // the causal view of the same numbers leaves them uncoloured
    document.body.replaceChildren();
    const causal = setup({ tokens, scores: f32([0, 0.1, 0.05, 0.02, 0.3, 0.2, 0.9, -0.1]) as AttributionModel["scores"],
      prompt_len: 8, target_position: 4, target_positions: [4], interactive: false });
    const cs = causal.el.querySelectorAll<HTMLElement>(".iw-token[data-index]");
    expect(colour(cs[6])).toBeUndefined();
    expect(cs[6].classList.contains("iw-after")).toBe(true);
  });

  it("masked LMs (pick_any): any token is a button that asks Python to explain it", () => {
    const { el, model } = setup({ prompt_len: 8, target_position: 4, target_positions: [4], causal: false, pick_any: true });
    const spans = el.querySelectorAll<HTMLElement>(".iw-token[data-index]");
    expect(el.querySelectorAll(".iw-cont")).toHaveLength(8);
    expect(spans[1].getAttribute("role")).toBe("button");
    expect(el.querySelector<HTMLElement>(".iw-hint")!.hidden).toBe(false);
    expect(el.querySelector(".iw-hint")!.textContent).toContain("predicts there");
    spans[1].click();
    expect(model.get("target_position")).toBe(1);
  });

  it("shows the error trait and bad data visibly", async () => {
    const { el, model } = setup();
    model.push({ error: "RuntimeError: out of memory" });
    expect(el.querySelector(".iw-error:not([hidden])")!.textContent).toContain("out of memory");
    model.push({ scores: f32([1, 2]) as AttributionModel["scores"] });
    await tick();
    expect(el.textContent).toMatch(/8 tokens but scores have 2 columns/);
    expect(el.querySelectorAll(".iw-token")).toHaveLength(8);
  });

  it("updates data-target-position after Python pushes a new result", async () => {
    const { el, model } = setup();
    model.push({ target_position: 7, target_positions: [7], target_label: "' France'" });
    await tick();
    const root = el.querySelector<HTMLElement>(".iw-attribution")!;
    expect(root.dataset.targetPosition).toBe("7");
    expect(el.querySelectorAll<HTMLElement>(".iw-token")[7].classList.contains("iw-target")).toBe(true);
  });

  it("several targets: a row selector switches the shown row", () => {
    const { el } = setup({
      scores: f32([[0.1, 0.8, 0.5, -0.2, 0.05, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 0]]) as AttributionModel["scores"],
      row_labels: ["' Paris'", "' France'"],
      target_positions: [5, 7],
    });
    const rs = el.querySelector<HTMLSelectElement>(".iw-row-select")!;
    expect(rs.hidden).toBe(false);
    rs.value = "1";
    rs.dispatchEvent(new Event("change"));
    expect(el.querySelectorAll<HTMLElement>(".iw-token")[7].classList.contains("iw-target")).toBe(true);
    expect(el.querySelectorAll<HTMLElement>(".iw-token")[6].dataset.value).toBe("1");
  });

  it("cleanup removes every listener", () => {
    const { el, model, cleanup } = setup();
    const span = el.querySelectorAll<HTMLElement>(".iw-token")[7];
    cleanup();
    expect(model.listenerCount()).toBe(0);
    span.click();
    expect(model.saved).toBe(0);
    expect(el.children).toHaveLength(0);
  });
});
