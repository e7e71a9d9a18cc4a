import { afterEach, describe, expect, it } from "vitest";
import widget, { type TopNeuronsModel } from "../src/views/top_neurons";
import { fakeModel } from "./fake_model";

function setup(patch: Partial<TopNeuronsModel> = {}) {
  const model = fakeModel<TopNeuronsModel>({
    tokens: ["The", " cat", "<b>x</b>"],
    selected_token: 1,
    neurons_at: 1,
    neurons: [
      { layer: 3, index: 17, activation: 2.0 },
      { layer: 0, index: 5, activation: 0.5 },
    ],
    selected_neuron: [],
    promoted: [],
    suppressed: [],
    open_request: [],
    can_open: true,
    title: "Top neurons",
    busy: false,
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

describe("TopNeuronsView", () => {
  it("lists the neurons of the selected token with bars scaled to the largest", () => {
    const { el } = setup();
    const rows = [...el.querySelectorAll<HTMLElement>(".iw-neuron")];
    expect(rows.map((r) => [r.dataset.layer, r.dataset.index])).toEqual([["3", "17"], ["0", "5"]]);
    expect(rows[0].querySelector(".iw-nname")!.textContent).toBe("L3 N17");
    expect(rows[0].querySelector<HTMLElement>(".iw-fill")!.style.width).toBe("100.0%");
    expect(rows[1].querySelector<HTMLElement>(".iw-fill")!.style.width).toBe("25.0%");
    expect(el.querySelector(".iw-summary")!.textContent).toContain("·cat");
    expect(el.querySelectorAll(".iw-strip .iw-token")[1].classList.contains("iw-selected")).toBe(true);
    expect(el.querySelector("b")).toBeNull();
  });

  it("says when no token is selected or the list is not computed yet", () => {
    const { el, model } = setup({ selected_token: -1, neurons_at: -1, neurons: [] });
    expect(el.querySelector(".iw-empty")!.textContent).toContain("Select a token");
    model.push({ selected_token: 2 });
    expect(el.querySelector(".iw-neuron")).toBeNull();
    expect(el.querySelector(".iw-empty")!.textContent).toContain("Not computed");
  });

  it("clicks: a token selects it, a neuron asks for its effects, the button opens a panel", () => {
    const { el, model } = setup();
    el.querySelectorAll<HTMLElement>(".iw-strip .iw-token")[2].dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(model.get("selected_token")).toBe(2);
    model.push({ selected_token: 1 });
    el.querySelectorAll<HTMLElement>(".iw-neuron .iw-nname")[1].dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(model.get("selected_neuron")).toEqual([0, 5]);
    model.push({ promoted: [[" Paris", 1.5]], suppressed: [["<i>", -1]] });
    expect([...el.querySelectorAll(".iw-chip")].map((c) => c.textContent)).toEqual(["·Paris", "<i>"]);
    expect(el.querySelector("i")).toBeNull();
    el.querySelector<HTMLButtonElement>(".iw-open")!.click();
    expect(model.get("open_request")).toEqual([0, 5]);
  });

  it("static pages list neurons but do not ask Python; cleanup removes listeners", () => {
    const { el, model, cleanup } = setup({ interactive: false, selected_neuron: [3, 17], promoted: [["a", 1]] });
    expect(el.querySelector(".iw-open")).toBeNull();
    el.querySelectorAll<HTMLElement>(".iw-neuron .iw-nname")[1].dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(model.get("selected_neuron")).toEqual([3, 17]);
    cleanup();
    expect(model.listenerCount()).toBe(0);
  });
});
