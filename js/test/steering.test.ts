import { afterEach, describe, expect, it, vi } from "vitest";
import widget, { divergence, formatCoef, parseNumber, type SteeringModel } from "../src/views/steering";
import { fakeModel, tick } from "./fake_model";

const XSS = "<img src=x onerror=alert(1)>";

function setup(patch: Partial<SteeringModel> = {}) {
  const model = fakeModel<SteeringModel>({
    prompt: "I think that today is",
    coefficient: 4,
    coefficient_min: -10,
    coefficient_max: 10,
    greedy: true,
    temperature: 1,
    max_tokens: 12,
    seed: 0,
    baseline_tokens: [],
    steered_tokens: [],
    generated_prompt: "",
    generated_coefficient: 0,
    generation: 0,
    stopped: false,
    model_name: "SmolLM2",
    layer: 15,
    n_layers: 30,
    vector_norm: 23.36,
    source: "mean difference of 5 vs 5 texts (mean)",
    busy: false,
    progress: 0,
    error: "",
    interactive: true,
    theme: "auto",
    ...patch,
  });
  const sent: unknown[] = [];
  model.send = ((msg: unknown) => {
    sent.push(msg);
  }) as typeof model.send;
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = widget.render({ model, el });
  const q = <T extends Element>(s: string) => el.querySelector<T>(s)!;
  return { model, el, cleanup, sent, q };
}

afterEach(() => {
  document.body.replaceChildren();
});

describe("helpers", () => {
  it("finds where the steered text first differs", () => {
    expect(divergence(["a", "b", "c"], ["a", "x", "c"], true)).toBe(1);
    expect(divergence(["a", "b"], ["a", "b"], true)).toBe(-1);
    expect(divergence(["a", "b"], ["a", "b", "c"], false)).toBe(-1); // baseline still growing
    expect(divergence(["a", "b"], ["a", "b", "c"], true)).toBe(2); // baseline ended there
    expect(divergence(["a", "b", "c"], ["a"], true)).toBe(1); // steered ended early
    expect(divergence(["a", "b", "c"], ["a"], false)).toBe(-1);
  });
  it("formats and parses numbers", () => {
    expect(formatCoef(6)).toBe("+6");
    expect(formatCoef(-0.5)).toBe("-0.5");
    expect(formatCoef(0)).toBe("0");
    expect(parseNumber(" 2.5 ")).toBe(2.5);
    expect(parseNumber("nan")).toBe("nan");
    expect(parseNumber("")).toBe("");
    expect(parseNumber("Infinity")).toBe("Infinity");
  });
});

describe("SteeringPlayground view", () => {
  it("shows the controls from the traits", () => {
    const { q, el } = setup();
    const slider = q<HTMLInputElement>("input.iw-slider");
    expect(slider.min).toBe("-10");
    expect(slider.max).toBe("10");
    expect(Number(slider.step)).toBeCloseTo(0.1);
    expect(slider.value).toBe("4");
    expect(q<HTMLInputElement>("input.iw-coef").value).toBe("4");
    expect(q<HTMLTextAreaElement>("textarea.iw-prompt").value).toBe("I think that today is");
    expect(q<HTMLInputElement>("input.iw-greedy").checked).toBe(true);
    expect(q<HTMLInputElement>("input.iw-temperature").disabled).toBe(true); // greedy
    expect(q<HTMLInputElement>("input.iw-max-tokens").value).toBe("12");
    expect(q<HTMLButtonElement>("button.iw-stop").disabled).toBe(true); // nothing running
    expect(q(".iw-unit").textContent).toContain("93.4"); // |4| * 23.36
    expect(el.querySelector(".iw-summary")!.textContent).toContain("15 (resid_post)");
    expect(q(".iw-empty").textContent).toBe("Nothing generated yet: press Generate.");
    // before any generation the steered column names the coefficient Generate would use
    const titles = [...el.querySelectorAll(".iw-col-title")].map((t) => t.textContent);
    expect(titles).toEqual(["baseline (c = 0)", "steered (c = +4)"]);
  });

  it("slider release sets the coefficient, saves and asks for a generation", () => {
    const { model, q, sent } = setup();
    const slider = q<HTMLInputElement>("input.iw-slider");
    slider.value = "7.5";
    slider.dispatchEvent(new Event("input"));
    expect(q<HTMLInputElement>("input.iw-coef").value).toBe("7.5"); // live while dragging
    expect(sent).toHaveLength(0); // ... but nothing asked yet
    slider.dispatchEvent(new Event("change"));
    expect(model.get("coefficient")).toBe(7.5);
    expect(model.saved).toBe(1);
    expect(sent).toEqual([
      { type: "generate", prompt: "I think that today is", coefficient: 7.5, greedy: true, temperature: 1, max_tokens: 12, seed: 0 },
    ]);
  });

  it("sends a typed NaN coefficient as text for Python to reject, without setting the trait", () => {
    const { model, q, sent } = setup();
    const input = q<HTMLInputElement>("input.iw-coef");
    input.value = "nan";
    input.dispatchEvent(new Event("change"));
    expect(model.get("coefficient")).toBe(4);
    expect(sent).toHaveLength(1);
    expect((sent[0] as { coefficient: unknown }).coefficient).toBe("nan");
    // Python answers with an error: shown.
    model.push({ error: "ValueError: the coefficient must be a finite number, got 'nan'" });
    const box = q<HTMLElement>(".iw-error");
    expect(box.hidden).toBe(false);
    expect(box.textContent).toContain("finite number");
  });

  it("Enter in the prompt and the Generate button ask for a generation with the settings", () => {
    const { model, q, sent } = setup();
    const prompt = q<HTMLTextAreaElement>("textarea.iw-prompt");
    prompt.value = "Today I feel";
    const greedy = q<HTMLInputElement>("input.iw-greedy");
    greedy.checked = false;
    greedy.dispatchEvent(new Event("change"));
    expect(q<HTMLInputElement>("input.iw-temperature").disabled).toBe(false);
    q<HTMLInputElement>("input.iw-temperature").value = "0.7";
    q<HTMLInputElement>("input.iw-max-tokens").value = "2.5"; // not an int: text for Python
    const ev = new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true });
    prompt.dispatchEvent(ev);
    expect(ev.defaultPrevented).toBe(true);
    expect(sent[0]).toMatchObject({ type: "generate", prompt: "Today I feel", greedy: false, temperature: 0.7, max_tokens: 2.5 });
    expect(model.get("prompt")).toBe("Today I feel");
    expect(model.get("greedy")).toBe(false);
    expect(model.get("max_tokens")).toBe(12); // an Int trait keeps ints only
    q<HTMLButtonElement>("button.iw-go").click();
    expect(sent).toHaveLength(2);
  });

  it("appends streamed tokens incrementally with textContent, and Stop sends a message", async () => {
    const { model, q, el, sent } = setup();
    model.push({ busy: true, generation: 1, generated_prompt: "Hi", generated_coefficient: 6, baseline_tokens: [], steered_tokens: [] });
    await tick();
    expect(q<HTMLButtonElement>("button.iw-stop").disabled).toBe(false);
    expect(q<HTMLElement>(".iw-progress").hidden).toBe(false);
    expect(q(".iw-steered .iw-col-title").textContent).toBe("steered (c = +6)");
    expect(q(".iw-baseline .iw-col-title").textContent).toBe("baseline (c = 0)");
    model.push({ baseline_tokens: [" there"] });
    await tick();
    const first = el.querySelector(".iw-baseline .iw-gen")!;
    model.push({ steered_tokens: [" there"] });
    model.push({ baseline_tokens: [" there", XSS], progress: 0.5 });
    await tick();
    const baseSpans = el.querySelectorAll(".iw-baseline .iw-gen");
    expect(baseSpans).toHaveLength(2);
    expect(baseSpans[0]).toBe(first); // appended, not rebuilt
    expect(baseSpans[1].textContent).toBe(XSS);
    expect(el.querySelector("img")).toBeNull();
    expect(q(".iw-baseline .iw-prompt-text").textContent).toBe("Hi");
    expect(q(".iw-progress").textContent).toContain("50%");

    q<HTMLButtonElement>("button.iw-stop").click();
    expect(sent).toEqual([{ type: "stop" }]);
    model.push({ busy: false, stopped: true, progress: 0 });
    await tick();
    expect(q<HTMLButtonElement>("button.iw-stop").disabled).toBe(true);
    expect(q(".iw-baseline .iw-col-note").textContent).toContain("stopped");
  });

  it("highlights steered tokens from the first difference, and rebuilds on a new generation", async () => {
    const { model, el } = setup();
    model.push({
      generation: 1,
      generated_prompt: "P",
      baseline_tokens: [" a", " great", " day", "."],
      steered_tokens: [" a", " wonderful", " day", "!"],
    });
    await tick();
    const spans = [...el.querySelectorAll<HTMLElement>(".iw-steered .iw-gen")];
    expect(spans.map((s) => s.classList.contains("iw-diverged"))).toEqual([false, true, true, true]);
    expect(spans[1].classList.contains("iw-diverge-start")).toBe(true);
    expect(el.querySelectorAll(".iw-baseline .iw-diverged")).toHaveLength(0);
    expect(el.querySelector<HTMLElement>(".iw-steer")!.dataset.divergence).toBe("1");
    expect(el.querySelector(".iw-steered .iw-col-note")!.textContent).toContain("differs from #1");

    model.push({ generation: 2, baseline_tokens: [], steered_tokens: [], busy: true });
    await tick();
    expect(el.querySelectorAll(".iw-gen")).toHaveLength(0);
    model.push({ baseline_tokens: [" a"], steered_tokens: [" a"], busy: false });
    await tick();
    expect(el.querySelectorAll(".iw-steered .iw-diverged")).toHaveLength(0);
    expect(el.querySelector(".iw-steered .iw-col-note")!.textContent).toContain("same as baseline");
  });

  it("static export: data shown, controls disabled, nothing sent", () => {
    const { q, el, sent, model } = setup({
      interactive: false,
      generation: 1,
      generated_prompt: "P",
      baseline_tokens: [" x"],
      steered_tokens: [" y"],
    });
    for (const c of el.querySelectorAll<HTMLInputElement | HTMLButtonElement>("input, textarea, button")) {
      expect(c.disabled).toBe(true);
    }
    expect(el.querySelectorAll(".iw-gen")).toHaveLength(2);
    expect(q(".iw-hint").textContent).toContain("Static page");
    const slider = q<HTMLInputElement>("input.iw-slider");
    slider.value = "9";
    slider.dispatchEvent(new Event("change"));
    expect(sent).toHaveLength(0);
    expect(model.saved).toBe(0);
  });

  it("cleanup removes every listener", () => {
    const { model, cleanup, el } = setup();
    const spy = vi.fn();
    model.send = spy as typeof model.send;
    expect(model.listenerCount()).toBeGreaterThan(0);
    cleanup();
    expect(model.listenerCount()).toBe(0);
    expect(el.querySelector(".iw-steer")).toBeNull();
  });
});
