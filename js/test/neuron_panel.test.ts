import { afterEach, describe, expect, it } from "vitest";
import widget, { renderHistogram, type NeuronPanelModel } from "../src/views/neuron_panel";
import { fakeModel, tick } from "./fake_model";

function f32flat(values: number[]) {
  const a = new Float32Array(values);
  return { view: new DataView(a.buffer), dtype: "float32", shape: [values.length] };
}
function i32flat(values: number[]) {
  const a = new Int32Array(values);
  return { view: new DataView(a.buffer), dtype: "int32", shape: [values.length] };
}

const XSS = "<img src=x onerror=alert(1)>";

function setup(patch: Partial<NeuronPanelModel> = {}) {
  const model = fakeModel<NeuronPanelModel>({
    layer: 5,
    index: 100,
    model_name: "SmolLM2",
    n_layers: 30,
    d_mlp: 1536,
    n_tokens: 1234,
    n_texts: 10,
    text_tokens: [
      ["It", " can", "'t", " be"],
      ["x", XSS],
    ],
    text_acts: f32flat([0.1, 0.5, 1.2, -0.1, 0, 0.3]) as NeuronPanelModel["text_acts"],
    example_tokens: [
      ["it", " doesn", "'t", " work"],
      ["not", " here"],
    ],
    example_acts: f32flat([0, 0.4, 1.5, 0.1, 1.1, 0.2]) as NeuronPanelModel["example_acts"],
    example_info: [
      { max_pos: 2, text_index: 3, position: 7, activation: 1.5 },
      { max_pos: 0, text_index: 1, position: 0, activation: 1.1 },
    ],
    hist_counts: i32flat([5, 100, 20, 1]) as NeuronPanelModel["hist_counts"],
    hist_edges: f32flat([-0.5, 0, 0.5, 1, 1.5]) as NeuronPanelModel["hist_edges"],
    promoted_tokens: [" not", XSS],
    promoted_values: f32flat([2.5, 1.25]) as NeuronPanelModel["promoted_values"],
    suppressed_tokens: [" yes"],
    suppressed_values: f32flat([-3]) as NeuronPanelModel["suppressed_values"],
    selected_token: [],
    neuron_list: [],
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

describe("NeuronPanel view", () => {
  it("renders rows, examples with the max token, histogram and logit lists", () => {
    const { el } = setup();
    const root = el.querySelector<HTMLElement>(".iw-neuron")!;
    expect(root.dataset.layer).toBe("5");
    expect(el.querySelector(".iw-title")!.textContent).toContain("L5 / 100");
    expect(el.querySelectorAll(".iw-text-row")).toHaveLength(2);
    expect(el.querySelectorAll(".iw-text-row .iw-token[data-value]")).toHaveLength(6);
    const examples = el.querySelectorAll<HTMLElement>(".iw-example");
    expect(examples).toHaveLength(2);
    const max = examples[0].querySelector(".iw-max")!;
    expect(max.textContent).toBe("'t");
    expect(max.getAttribute("data-value")).toBe("1.5");
    expect(examples[1].querySelector(".iw-max")!.textContent).toBe("not");
    expect(el.querySelectorAll(".iw-max")).toHaveLength(2);
    expect(el.querySelectorAll(".iw-hist rect.iw-bar")).toHaveLength(4);
    const pos = el.querySelector(".iw-logit-list.iw-pos")!;
    expect(pos.querySelectorAll("li")).toHaveLength(2);
    expect(pos.textContent).toContain("2.5");
    expect(el.querySelector(".iw-logit-list.iw-neg")!.textContent).toContain("-3");
  });

  it("token text goes through textContent only", () => {
    const { el } = setup();
    expect(el.querySelector("img")).toBeNull();
    const tok = el.querySelectorAll<HTMLElement>(".iw-text-row")[1].querySelectorAll(".iw-token")[1];
    expect(tok.textContent).toBe(XSS);
    expect(el.querySelector(".iw-logit-list.iw-pos")!.textContent).toContain("<img");
  });

  it("clicking a token asks for neurons; clicking a neuron re-targets", async () => {
    const { el, model } = setup();
    const tok = el.querySelectorAll<HTMLElement>(".iw-text-row")[0].querySelectorAll<HTMLElement>(".iw-token")[2];
    tok.click();
    expect(model.get("selected_token")).toEqual([0, 2]);
    expect(model.saved).toBe(1);
    expect(tok.classList.contains("iw-selected")).toBe(true);
    // Python answers with a list.
    model.push({
      neuron_list: [
        { layer: 5, index: 100, activation: 1.2 },
        { layer: 7, index: 42, activation: 0.9 },
      ],
    });
    const items = el.querySelectorAll<HTMLButtonElement>(".iw-neuron-item[data-layer][data-index]");
    expect(items).toHaveLength(2);
    expect(items[0].classList.contains("iw-current")).toBe(true);
    expect(el.querySelector(".iw-neurons .iw-section-title")!.textContent).toContain("'t");
    items[1].click();
    expect(model.get("layer")).toBe(7);
    expect(model.get("index")).toBe(42);
    expect(model.saved).toBe(2);
    // Busy: progress shows, buttons are disabled, clicks do nothing.
    model.push({ busy: true, progress: 0.4 });
    const prog = el.querySelector<HTMLElement>(".iw-progress")!;
    expect(prog.hidden).toBe(false);
    expect(prog.textContent).toContain("40%");
    tok.click();
    expect(model.saved).toBe(2);
    model.push({ busy: false, error: "ValueError: neuron index 9999 is out of range" });
    await tick();
    expect(el.querySelector<HTMLElement>(".iw-error:not([hidden])")!.textContent).toContain("out of range");
    // Clicking the selected token again clears the selection.
    el.querySelectorAll<HTMLElement>(".iw-text-row")[0].querySelectorAll<HTMLElement>(".iw-token")[2].click();
    expect(model.get("selected_token")).toEqual([]);
  });

  it("a static view ignores clicks and hides the hint", () => {
    const { el, model } = setup({ interactive: false });
    el.querySelectorAll<HTMLElement>(".iw-text-row .iw-token")[0].click();
    expect(model.saved).toBe(0);
    expect(el.querySelector<HTMLElement>(".iw-texts .iw-hint")!.hidden).toBe(true);
  });

  it("redraws on a new neuron and cleans up its listeners", async () => {
    const { el, model, cleanup } = setup();
    model.push({ layer: 9, index: 720, example_tokens: [["a"]], example_acts: f32flat([2]) as NeuronPanelModel["example_acts"],
      example_info: [{ max_pos: 0, text_index: 0, position: 0, activation: 2 }] });
    await tick();
    expect(el.querySelector(".iw-title")!.textContent).toContain("L9 / 720");
    expect(el.querySelectorAll(".iw-example")).toHaveLength(1);
    cleanup();
    expect(model.listenerCount()).toBe(0);
    expect(el.querySelector(".iw-neuron")).toBeNull();
  });

  it("reports mismatched data instead of drawing it", () => {
    const { el } = setup({ text_acts: f32flat([1, 2]) as NeuronPanelModel["text_acts"] });
    expect(el.querySelector<HTMLElement>(".iw-error:not([hidden])")!.textContent).toContain("6 text tokens but 2 activations");
  });

  it("histogram bars follow the counts", () => {
    const svg = renderHistogram([1, 0, 9], [-1, 0, 1, 2]);
    expect(svg.querySelectorAll("rect")).toHaveLength(2);
    expect(svg.getAttribute("aria-label")).toContain("10 activations");
  });
});
