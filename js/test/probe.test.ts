import { afterEach, describe, expect, it } from "vitest";
import widget, { renderAccuracyChart, type ProbeModel } from "../src/views/probe";
import { f32, fakeModel, tick } from "./fake_model";

function f32flat(values: number[]) {
  const a = new Float32Array(values);
  return { view: new DataView(a.buffer), dtype: "float32", shape: [values.length] } as ProbeModel["test_accuracy"];
}
function i32flat(values: number[]) {
  const a = new Int32Array(values);
  return { view: new DataView(a.buffer), dtype: "int32", shape: [values.length] } as ProbeModel["layers"];
}

const XSS = "<img src=x onerror=alert(1)>";

function setup(patch: Partial<ProbeModel> = {}) {
  const model = fakeModel<ProbeModel>({
    layers: i32flat([0, 1, 2, 3]),
    test_accuracy: f32flat([0.5, 0.75, 1, 0.875]),
    train_accuracy: f32flat([0.9, 1, 1, 1]),
    classes: ["animals", "numbers"],
    chance: 0.5,
    best_layer: 2,
    position: "last",
    n_train: 24,
    n_test: 8,
    model_name: "SmolLM2",
    selected_layer: 2,
    text: "The cat counted",
    tokens: ["The", " cat", " counted", XSS],
    predictions: f32([
      [0.9, 0.1],
      [0.8, 0.2],
      [0.3, 0.7],
      [0.5, 0.5],
    ]) as ProbeModel["predictions"],
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

describe("ProbeView chart", () => {
  it("draws one point per layer for each series, the chance line and the best layer", () => {
    const { el } = setup();
    const svg = el.querySelector("svg.iw-probe-chart")!;
    const test = svg.querySelectorAll<SVGCircleElement>("circle.iw-test-point");
    expect(test).toHaveLength(4);
    expect(svg.querySelectorAll("circle.iw-train-point")).toHaveLength(4);
    expect(svg.querySelectorAll("rect.iw-hit")).toHaveLength(4);
    expect([...test].map((c) => c.getAttribute("data-layer"))).toEqual(["0", "1", "2", "3"]);
    // higher accuracy = higher on screen (smaller y)
    const cy = [...test].map((c) => Number(c.getAttribute("cy")));
    expect(cy[2]).toBeLessThan(cy[1]);
    expect(cy[1]).toBeLessThan(cy[0]);
    const chance = svg.querySelector("line.iw-chance")!;
    expect(Number(chance.getAttribute("y1"))).toBeCloseTo(cy[0], 5); // 0.5 = chance
    expect(svg.querySelector(".iw-best-ring")!.getAttribute("cx")).toBe(test[2].getAttribute("cx"));
    expect(svg.querySelector(".iw-best-label")!.textContent).toBe("best");
    const band = svg.querySelector(".iw-sel-band")!;
    const mid = Number(band.getAttribute("x")) + Number(band.getAttribute("width")) / 2;
    expect(mid).toBeCloseTo(Number(test[2].getAttribute("cx")), 5);
    const labels = [...svg.querySelectorAll("text.iw-axis-label")].map((t) => t.textContent);
    expect(labels.some((l) => l!.startsWith("layer"))).toBe(true);
    expect(labels).toContain("accuracy");
    expect(el.querySelector(".iw-title")!.textContent).toContain("animals vs numbers");
  });

  it("labels a thinned x axis but always the best layer", () => {
    const n = 30;
    const layers = Array.from({ length: n }, (_, i) => i);
    const svg = renderAccuracyChart({ layers, test: layers.map(() => 1), train: layers.map(() => 1), chance: 0.5, best: 7, selected: 7 }, 400);
    expect(svg.querySelectorAll("circle.iw-test-point")).toHaveLength(n);
    const ticks = [...svg.querySelectorAll("text")].map((t) => t.textContent);
    expect(ticks).toContain("7");
    expect(ticks).not.toContain("1"); // thinned: 30 labels do not fit in 400 px
  });

  it("hover shows layer and both accuracies; clicking a layer selects it", () => {
    const { el, model } = setup();
    const hits = el.querySelectorAll<SVGRectElement>("rect.iw-hit");
    hits[1].dispatchEvent(new MouseEvent("mousemove", { bubbles: true }));
    const tip = [...el.querySelectorAll<HTMLElement>(".iw-tooltip")].find((t) => !t.hidden)!;
    expect(tip.textContent).toContain("layer 1");
    expect(tip.textContent).toContain("held-out 0.75");
    expect(tip.textContent).toContain("train    1");
    hits[1].dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(model.get("selected_layer")).toBe(1);
    expect(model.saved).toBe(1);
    // the selected layer again: nothing to do
    hits[1].dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(model.saved).toBe(1);
  });

  it("clicks do nothing while busy or in a static view", () => {
    const { el, model } = setup({ busy: true });
    el.querySelectorAll<SVGRectElement>("rect.iw-hit")[0].dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(model.saved).toBe(0);
    expect(el.querySelector<HTMLElement>(".iw-progress")!.hidden).toBe(false);
    document.body.replaceChildren();
    const s = setup({ interactive: false });
    s.el.querySelectorAll<SVGRectElement>("rect.iw-hit")[0].dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(s.model.saved).toBe(0);
    expect(s.model.get("selected_layer")).toBe(2);
    const input = s.el.querySelector<HTMLInputElement>("input.iw-probe-input")!;
    expect(input.disabled).toBe(true);
    expect(s.el.querySelector<HTMLButtonElement>("button.iw-probe-run")!.disabled).toBe(true);
    expect(input.value).toBe("The cat counted"); // the last text still shows
    expect(s.el.querySelectorAll(".iw-pred-body .iw-token")).toHaveLength(4); // and its predictions
  });
});

describe("ProbeView predictions", () => {
  it("renders tokens with textContent, coloured by P(class 1) - 0.5, legend names the classes", () => {
    const { el } = setup();
    expect(el.querySelector("img")).toBeNull();
    const spans = el.querySelectorAll<HTMLElement>(".iw-pred-body .iw-token");
    expect(spans).toHaveLength(4);
    expect(spans[3].textContent).toBe(XSS);
    expect(spans[1].textContent).toBe("·cat");
    expect(spans[0].getAttribute("data-value")).toBe("-0.4");
    expect(spans[2].getAttribute("data-value")).toBe("0.2");
    expect(spans[3].getAttribute("data-value")).toBe("0");
    // diverging classes: a confident "animals" token and a neutral one get different bins
    const bin = (s: HTMLElement) => [...s.classList].find((c) => /^iw-c\d+$/.test(c));
    expect(bin(spans[0])).toBeDefined();
    expect(bin(spans[0])).not.toBe(bin(spans[3]));
    const names = [...el.querySelectorAll(".iw-class-legend .iw-class-name")].map((n) => n.textContent);
    expect(names).toEqual(["animals", "numbers"]);
    expect(el.querySelector(".iw-last")!.textContent).toContain("animals 0.5");
  });

  it("hovering a token lists every class probability", () => {
    const { el } = setup();
    const span = el.querySelectorAll<HTMLElement>(".iw-pred-body .iw-token")[2];
    span.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    const tip = [...el.querySelectorAll<HTMLElement>(".iw-tooltip")].find((t) => !t.hidden)!;
    expect(tip.textContent).toContain("counted");
    expect(tip.textContent).toContain("P(animals) = 0.3");
    expect(tip.textContent).toContain("P(numbers) = 0.7");
  });

  it("more classes: colour by the most likely class, legend lists the classes", () => {
    const { el } = setup({
      classes: ["a", "b", XSS],
      tokens: ["x", "y"],
      predictions: f32([
        [0.1, 0.8, 0.1],
        [0.2, 0.2, 0.6],
      ]) as ProbeModel["predictions"],
    });
    const spans = el.querySelectorAll<HTMLElement>(".iw-pred-body .iw-token");
    const k = (s: HTMLElement) => Number([...s.classList].find((c) => /^iw-k\d+$/.test(c))!.slice(4));
    expect(Math.floor(k(spans[0]) / 11)).toBe(1); // class b
    expect(Math.floor(k(spans[1]) / 11)).toBe(2); // class 3
    expect(k(spans[0]) % 11).toBeGreaterThan(k(spans[1]) % 11); // 0.8 is surer than 0.6
    const names = [...el.querySelectorAll(".iw-class-legend .iw-class-name")].map((n) => n.textContent);
    expect(names).toEqual(["a", "b", XSS]);
    expect(el.querySelector("img")).toBeNull();
    const css = el.querySelector("style.iw-scale-style")!.textContent!;
    expect(css).toContain(".iw-k12{");
  });

  it("the text box sends the text; an empty one shows an error and sends nothing", () => {
    const { el, model } = setup({ text: "", tokens: [], predictions: null });
    expect(el.querySelector(".iw-pred-body .iw-empty")).not.toBeNull();
    const input = el.querySelector<HTMLInputElement>("input.iw-probe-input")!;
    const form = el.querySelector<HTMLFormElement>("form.iw-probe-form")!;
    input.value = "   ";
    form.dispatchEvent(new Event("submit", { cancelable: true, bubbles: true }));
    expect(model.saved).toBe(0);
    const errors = [...el.querySelectorAll<HTMLElement>(".iw-error")].filter((e) => !e.hidden);
    expect(errors.map((e) => e.textContent).join()).toContain("Type some text");
    input.value = "Seven cats.";
    form.dispatchEvent(new Event("submit", { cancelable: true, bubbles: true }));
    expect(model.get("text")).toBe("Seven cats.");
    expect(model.saved).toBe(1);
  });

  it("follows Python: new predictions, errors, busy", async () => {
    const { el, model } = setup();
    model.push({
      selected_layer: 1,
      tokens: ["a", "b"],
      predictions: f32([
        [0.1, 0.9],
        [0.6, 0.4],
      ]) as ProbeModel["predictions"],
    });
    await tick();
    expect(el.querySelectorAll(".iw-pred-body .iw-token")).toHaveLength(2);
    expect(el.querySelector(".iw-section-title + .iw-probe-form")).not.toBeNull();
    expect([...el.querySelectorAll(".iw-section-title")].map((t) => t.textContent).join()).toContain("layer 1");
    model.push({ error: "ValueError: the text is empty" });
    const err = el.querySelector<HTMLElement>(".iw-trait-error")!;
    expect(err.hidden).toBe(false);
    expect(err.textContent).toContain("the text is empty");
    model.push({ busy: true });
    expect(el.querySelector<HTMLButtonElement>("button.iw-probe-run")!.disabled).toBe(true);
    // malformed predictions: a visible error, not a dead view
    model.push({ tokens: ["a", "b", "c"] });
    await tick();
    const errors = [...el.querySelectorAll<HTMLElement>(".iw-error")].filter((e) => !e.hidden).map((e) => e.textContent);
    expect(errors.join()).toContain("for 3 tokens");
    expect(el.querySelector("svg.iw-probe-chart")).not.toBeNull();
  });

  it("cleanup removes every listener and the view", () => {
    const { el, model, cleanup } = setup();
    expect(model.listenerCount()).toBeGreaterThan(0);
    cleanup();
    expect(model.listenerCount()).toBe(0);
    expect(el.querySelector(".iw-probe")).toBeNull();
  });
});
