import { afterEach, describe, expect, it } from "vitest";
import widget, { CELL_W, ROW_H, signed, type DlaModel } from "../src/views/dla";
import { f32, fakeModel } from "./fake_model";

const HEADS = [
  [0.5, -1, 0.25],
  [2, 0, -0.5],
];
const EVIL = '<img src=x onerror="window.__xss=1">';

function setup(patch: Partial<DlaModel> = {}) {
  const model = fakeModel<DlaModel>({
    tokens: ["When", " Mary", EVIL, " to"],
    position: 3,
    target: "' Mary' - ' John'",
    heads: f32(HEADS) as DlaModel["heads"],
    attn_bias: { ...f32([0.1, 0]), shape: [2] } as DlaModel["attn_bias"],
    mlp: { ...f32([1.5, -0.75]), shape: [2] } as DlaModel["mlp"],
    embed: 0.25,
    norm_bias: 0,
    lm_bias: -0.125,
    logit: 0.5 - 1 + 0.25 + 2 - 0.5 + 0.1 + 1.5 - 0.75 + 0.25 - 0.125,
    title: "demo",
    selected_layer: -1,
    selected_head: -1,
    error: "",
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

describe("DirectLogitAttributionView", () => {
  it("renders one bar row per layer with attention and MLP values", () => {
    const { el } = setup();
    expect(el.querySelector(".iw-dla")).not.toBeNull();
    expect(el.querySelector("canvas.iw-dla-heads")).not.toBeNull();
    const rows = el.querySelectorAll<HTMLElement>(".iw-dla-layer[data-layer]");
    expect(rows).toHaveLength(2);
    expect(rows[0].dataset.layer).toBe("0");
    expect(Number(rows[0].dataset.attn)).toBeCloseTo(0.5 - 1 + 0.25 + 0.1, 6);
    expect(Number(rows[1].dataset.attn)).toBeCloseTo(1.5, 6);
    expect(Number(rows[0].dataset.mlp)).toBe(1.5);
    expect(Number(rows[1].dataset.mlp)).toBe(-0.75);
    // Negative bars grow left of the zero line, positive ones right.
    const mlpBars = [...rows].map((r) => r.querySelectorAll<HTMLElement>(".iw-dla-bar")[1]);
    expect(mlpBars[0].style.left).toBe("50%");
    expect(mlpBars[1].style.right).toBe("50%");
    expect(el.querySelector(".iw-legend")!.getAttribute("data-kind")).toBe("diverging");
    expect(el.querySelector(".iw-error:not([hidden])")).toBeNull();
  });

  it("shows the terms and a check line that the parts add up to the logit", () => {
    const { el } = setup();
    const check = el.querySelector<HTMLElement>(".iw-dla-check")!;
    expect(check.dataset.ok).toBe("true");
    expect(check.textContent).toMatch(/sum of parts \+2\.225 = logit diff \+2\.225 ✓/);
    expect(el.querySelector("[data-term='embed'] .iw-v")!.textContent).toBe("+0.250");
    expect(el.querySelector("[data-term='lm-bias'] .iw-v")!.textContent).toBe("-0.125");
    const { el: el2 } = setup({ logit: 10 });
    const bad = el2.querySelector<HTMLElement>(".iw-dla-check")!;
    expect(bad.dataset.ok).toBe("false");
    expect(bad.textContent).toMatch(/off by/);
  });

  it("shows the target, the explained token and the prompt as text only", () => {
    const { el } = setup();
    expect(el.querySelector(".iw-dla-target .iw-v")!.textContent).toBe("' Mary' - ' John'");
    expect(el.querySelector(".iw-dla-position .iw-v")!.textContent).toBe("#3 ·to");
    expect(el.querySelector(".iw-dla-context")!.textContent).toContain(EVIL);
    expect(el.querySelector("img")).toBeNull();
    expect((globalThis as Record<string, unknown>).__xss).toBeUndefined();
  });

  it("shows a tooltip on hovering a head and selects it on click", () => {
    const { el, model } = setup();
    const canvas = el.querySelector<HTMLCanvasElement>("canvas.iw-dla-heads")!;
    const at = { clientX: 2.5 * CELL_W, clientY: 1.5 * ROW_H, bubbles: true }; // layer 1, head 2
    canvas.dispatchEvent(new MouseEvent("mousemove", at));
    const tip = el.querySelector<HTMLElement>(".iw-tooltip")!;
    expect(tip.hidden).toBe(false);
    expect(tip.textContent).toBe("L1H2: -0.500");
    canvas.dispatchEvent(new MouseEvent("mouseleave"));
    expect(tip.hidden).toBe(true);

    canvas.dispatchEvent(new MouseEvent("click", at));
    expect([model.get("selected_layer"), model.get("selected_head")]).toEqual([1, 2]);
    expect(model.saved).toBe(1);
    expect(el.querySelectorAll(".iw-dla-lab")[1].classList.contains("iw-sel")).toBe(true);
    canvas.dispatchEvent(new MouseEvent("click", at)); // again: deselect
    expect([model.get("selected_layer"), model.get("selected_head")]).toEqual([-1, -1]);
  });

  it("shows a layer's parts on hovering its bar row", () => {
    const { el } = setup();
    const row = el.querySelectorAll<HTMLElement>(".iw-dla-layer")[1];
    row.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    const tip = el.querySelector<HTMLElement>(".iw-tooltip")!;
    expect(tip.hidden).toBe(false);
    expect(tip.textContent).toContain("L1: +0.750");
    expect(tip.textContent).toContain("MLP -0.750");
  });

  it("follows the dark theme and redraws on new data", async () => {
    const { el, model } = setup({ theme: "dark" });
    const root = el.querySelector<HTMLElement>(".iw-dla")!;
    expect(root.dataset.iwTheme).toBe("dark");
    expect(root.dataset.iwDark).toBe("true");
    model.push({ heads: f32([[1], [2], [3]]) as DlaModel["heads"], attn_bias: null,
      mlp: { ...f32([0, 0, 1]), shape: [3] } as DlaModel["mlp"] });
    await Promise.resolve();
    expect(el.querySelectorAll(".iw-dla-layer")).toHaveLength(3);
  });

  it("shows a visible error on inconsistent data and cleans up its listeners", () => {
    const { el, model, cleanup } = setup({ mlp: { ...f32([1, 2, 3]), shape: [3] } as DlaModel["mlp"] });
    const err = el.querySelector<HTMLElement>(".iw-error:not([hidden])")!;
    expect(err.textContent).toMatch(/mlp has 3 values for 2 layers/);
    expect(el.querySelector(".iw-dla-context")!.textContent).toContain("to"); // never blank
    model.push({ error: "kernel failed" });
    expect(el.textContent).toContain("kernel failed");
    cleanup();
    expect(model.listenerCount()).toBe(0);
    expect(el.querySelector(".iw-dla")).toBeNull();
  });

  it("formats signed numbers", () => {
    expect(signed(2.8551)).toBe("+2.855");
    expect(signed(-0.0001)).toBe("+0.000");
    expect(signed(-1.5, 2)).toBe("-1.50");
  });
});
