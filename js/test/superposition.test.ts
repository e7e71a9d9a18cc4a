import { afterEach, describe, expect, it } from "vitest";
import widget, { compactList, sparsityFromT, superColor, tFromSparsity, type SuperpositionModel } from "../src/views/superposition";
import { f32, fakeModel, tick } from "./fake_model";

function flat(values: number[]) {
  const a = new Float32Array(values);
  return { view: new DataView(a.buffer), dtype: "float32", shape: [values.length] };
}

// A pentagon: 5 unit features in 2-D.
const ANG = [0, 1, 2, 3, 4].map((i) => (2 * Math.PI * i) / 5);
const XY = [ANG.map(Math.cos), ANG.map(Math.sin)];
const WTW = ANG.map((a) => ANG.map((b) => Math.cos(a - b)));

function setup(patch: Partial<SuperpositionModel> = {}) {
  const model = fakeModel<SuperpositionModel>({
    n_features: 5,
    n_hidden: 2,
    W: f32(XY) as SuperpositionModel["W"],
    b: flat([0, 0, 0, 0, 0]) as SuperpositionModel["b"],
    directions: f32(XY) as SuperpositionModel["directions"],
    projected: false,
    explained: [0.5, 0.5],
    wtw: f32(WTW) as SuperpositionModel["wtw"],
    norms: flat([1, 1, 1, 1, 0.5]) as SuperpositionModel["norms"],
    superposition: flat([0.8, 0.8, 0.8, 0.8, 0.0]) as SuperpositionModel["superposition"],
    importance: flat([1, 0.9, 0.81, 0.73, 0.66]) as SuperpositionModel["importance"],
    loss: 0.02,
    n_represented: 4,
    train_seconds: 1.5,
    sparsity: 0.9,
    importance_decay: 0.9,
    busy: false,
    progress: 0,
    error: "",
    interactive: true,
    theme: "light",
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

describe("SuperpositionView", () => {
  it("draws one arrow per feature, labelled with its index", () => {
    const { el } = setup();
    const arrows = el.querySelectorAll<SVGGElement>("svg.iw-sp-plot g.iw-sp-arrow");
    expect(arrows).toHaveLength(5);
    const labels = [...arrows].map((a) => a.querySelector("text")!.textContent).sort();
    expect(labels).toEqual(["0", "1", "2", "3", "4"]);
    // Feature 0 points along +x: its shaft ends right of the origin, at the same height.
    const f0 = el.querySelector<SVGGElement>('g.iw-sp-arrow[data-feature="0"] line')!;
    expect(Number(f0.getAttribute("x2"))).toBeGreaterThan(Number(f0.getAttribute("x1")) + 50);
    expect(Number(f0.getAttribute("y2"))).toBeCloseTo(Number(f0.getAttribute("y1")), 5);
    // Coloured by superposition: features in superposition differ from the one without.
    const color = (i: number) => el.querySelector(`g.iw-sp-arrow[data-feature="${i}"] line`)!.getAttribute("stroke");
    expect(color(0)).toBe(color(1));
    expect(color(4)).not.toBe(color(0));
    expect(el.querySelector('g.iw-sp-arrow[data-feature="4"] title')!.textContent).toContain("superposition = 0");
    expect(el.querySelector(".iw-sp-caption")!.textContent).toContain("2-D hidden space");
    expect(el.querySelector(".iw-sp-represented .iw-v")!.textContent).toBe("4 of 5");
  });

  it("greys out dropped features and lists those at the origin instead of piling labels", () => {
    const XY2 = [
      [1, 0, 0.001, 0, 0.02],
      [0, 1, 0, 0.001, 0],
    ];
    const { el } = setup({
      directions: f32(XY2) as SuperpositionModel["directions"],
      norms: flat([1, 1, 0.001, 0.001, 0.02]) as SuperpositionModel["norms"],
      superposition: flat([0, 0, 1, 1, 1]) as SuperpositionModel["superposition"],
    });
    const dropped = [...el.querySelectorAll<SVGGElement>("g.iw-sp-arrow.iw-sp-dropped")].map((g) => g.dataset.feature).sort();
    expect(dropped).toEqual(["2", "3", "4"]);
    expect(el.querySelectorAll("rect.iw-sp-bar.iw-sp-dropped")).toHaveLength(3);
    expect(el.querySelectorAll("g.iw-sp-arrow text")).toHaveLength(2); // only 0 and 1 labelled
    expect(el.querySelector(".iw-sp-origin")!.textContent).toBe("At the origin: features 2–4.");
    expect(el.querySelector('g.iw-sp-arrow[data-feature="2"] title')!.textContent).toContain("dropped");
  });

  it("says when the arrows are a projection", () => {
    const { el } = setup({ n_hidden: 4, projected: true, explained: [0.6, 0.3] });
    expect(el.querySelector(".iw-sp-caption")!.textContent).toContain("top-2 principal directions (90% of ‖W‖²)");
  });

  it("sizes the WᵀW heatmap to the features and shows values on hover", () => {
    const { el } = setup();
    const canvas = el.querySelector<HTMLCanvasElement>("canvas.iw-sp-wtw")!;
    expect(canvas.dataset.rows).toBe("5");
    expect(canvas.dataset.cols).toBe("5");
    const cell = parseFloat(canvas.style.width) / 5;
    expect(cell).toBeGreaterThanOrEqual(10);
    expect(canvas.style.height).toBe(canvas.style.width);
    expect(el.querySelector(".iw-sp-heat .iw-legend")!.getAttribute("data-kind")).toBe("diverging");
    canvas.dispatchEvent(new MouseEvent("mousemove", { clientX: 1.5 * cell, clientY: 0.5 * cell, bubbles: true }));
    const tip = el.querySelector<HTMLElement>(".iw-tooltip")!;
    expect(tip.hidden).toBe(false);
    expect(tip.textContent).toBe(`W0·W1 = ${Number(Math.cos(ANG[1]).toPrecision(4))}`);
    canvas.dispatchEvent(new MouseEvent("mousemove", { clientX: 2.5 * cell, clientY: 2.5 * cell, bubbles: true }));
    expect(tip.textContent).toBe("‖W2‖² = 1");
    canvas.dispatchEvent(new MouseEvent("mouseleave"));
    expect(tip.hidden).toBe(true);
  });

  it("draws one norm bar per feature, proportional to the norm", () => {
    const { el } = setup();
    const bars = el.querySelectorAll<SVGRectElement>("rect.iw-sp-bar");
    expect(bars).toHaveLength(5);
    const w = [...bars].map((b) => Number(b.getAttribute("width")));
    expect(w[4]).toBeCloseTo(w[0] / 2, 5);
  });

  it("a sparsity slider release sets the trait and saves; dragging only relabels", () => {
    const { el, model } = setup({ sparsity: 0.0 });
    const input = el.querySelector<HTMLInputElement>(".iw-sp-sparsity input")!;
    expect(input.disabled).toBe(false);
    input.value = "1";
    input.dispatchEvent(new Event("input"));
    expect(el.querySelector(".iw-sp-sparsity .iw-sp-value")!.textContent).toContain("0.9");
    expect(model.saved).toBe(0);
    input.dispatchEvent(new Event("change"));
    expect(model.get("sparsity")).toBe(0.9);
    expect(model.saved).toBe(1);
    input.value = "2";
    input.dispatchEvent(new Event("change"));
    expect(model.get("sparsity")).toBe(0.99);
    expect(model.saved).toBe(2);
  });

  it("an importance slider release sets importance_decay", () => {
    const { el, model } = setup();
    const input = el.querySelector<HTMLInputElement>(".iw-sp-importance input")!;
    expect(Number(input.value)).toBeCloseTo(0.9);
    input.value = "0.7";
    input.dispatchEvent(new Event("change"));
    expect(model.get("importance_decay")).toBe(0.7);
    expect(model.saved).toBe(1);
  });

  it("disables the sliders while busy and in a static view, showing progress", async () => {
    const { el, model } = setup();
    model.push({ busy: true, progress: 0.4 });
    const input = el.querySelector<HTMLInputElement>(".iw-sp-sparsity input")!;
    expect(input.disabled).toBe(true);
    const bar = el.querySelector<HTMLElement>(".iw-progress")!;
    expect(bar.hidden).toBe(false);
    expect(bar.textContent).toContain("40%");
    input.value = "1.5";
    input.dispatchEvent(new Event("change"));
    expect(model.saved).toBe(0);
    model.push({ busy: false });
    expect(input.disabled).toBe(false);
    expect(bar.hidden).toBe(true);

    const stat = setup({ interactive: false });
    const input2 = stat.el.querySelector<HTMLInputElement>(".iw-sp-importance input")!;
    expect(input2.disabled).toBe(true);
    expect(stat.el.querySelector(".iw-hint")!.textContent).toContain("Static view");
    await tick();
  });

  it("redraws when Python pushes new weights", async () => {
    const { el, model } = setup();
    const XY2 = [
      [1, 0, 0, 0, 0],
      [0, 1, 0, 0, 0],
    ];
    model.push({ directions: f32(XY2) as SuperpositionModel["directions"], n_represented: 2, sparsity: 0 });
    await tick();
    const f1 = el.querySelector('g.iw-sp-arrow[data-feature="1"] line')!;
    expect(Number(f1.getAttribute("x2"))).toBeCloseTo(Number(f1.getAttribute("x1")), 5); // along +y now
    expect(el.querySelector(".iw-sp-represented .iw-v")!.textContent).toBe("2 of 5");
    expect(el.querySelector<HTMLInputElement>(".iw-sp-sparsity input")!.value).toBe("0");
  });

  it("shows trait errors and malformed data as errors, not a blank view", async () => {
    const { el, model } = setup();
    model.push({ error: "ValueError: sparsity must be in [0, 1)" });
    const boxes = [...el.querySelectorAll<HTMLElement>(".iw-error")].filter((b) => !b.hidden);
    expect(boxes.map((b) => b.textContent).join(" ")).toContain("sparsity must be in [0, 1)");
    model.push({ wtw: f32([[1, 2, 3]]) as SuperpositionModel["wtw"] });
    await tick();
    const text = [...el.querySelectorAll<HTMLElement>(".iw-error")].map((b) => b.textContent).join(" ");
    expect(text).toContain("WᵀW has 3 values, expected 25");
    expect(el.querySelectorAll("g.iw-sp-arrow")).toHaveLength(5); // the rest still shows
  });

  it("cleans up its listeners", () => {
    const { el, model, cleanup } = setup();
    expect(model.listenerCount()).toBeGreaterThan(0);
    cleanup();
    expect(model.listenerCount()).toBe(0);
    expect(el.querySelector(".iw-superposition")).toBeNull();
  });
});

describe("helpers", () => {
  it("maps the log(1 − S) slider to sparsity and back", () => {
    expect(sparsityFromT(0)).toBe(0);
    expect(sparsityFromT(1)).toBe(0.9);
    expect(sparsityFromT(2)).toBe(0.99);
    expect(sparsityFromT(1.5)).toBeCloseTo(0.9684, 4);
    expect(tFromSparsity(0.9)).toBeCloseTo(1, 6);
    expect(tFromSparsity(0)).toBe(0);
    expect(tFromSparsity(0.999)).toBe(2); // clamped to the slider
  });

  it("compacts index lists", () => {
    expect(compactList([0, 2, 3, 4, 5, 9, 10])).toBe("0, 2–5, 9, 10");
    expect(compactList([7])).toBe("7");
  });

  it("colours superposition from the text colour to yellow", () => {
    expect(superColor(0, "#000000", false)).toBe("#000000");
    expect(superColor(1, "#000000", false)).toBe("#e0a100");
    expect(superColor(5, "#ffffff", true)).toBe("#ffd33d");
    expect(superColor(NaN, "#ffffff", true)).toBe("#ffffff");
  });
});
