import { afterEach, describe, expect, it } from "vitest";
import widget, { type HeatmapModel } from "../src/views/token_heatmap";
import { f32, fakeModel, tick } from "./fake_model";

function setup(patch: Partial<HeatmapModel> = {}) {
  const model = fakeModel<HeatmapModel>({
    tokens: ["The", " cat", " sat", "\n", "<img src=x onerror=\"window.__xss=1\">"],
    values: f32([0.5, -1, 0.25, 0, 2]) as HeatmapModel["values"],
    row_labels: [],
    scale: "auto",
    value_range: null,
    title: "demo",
    theme: "auto",
    selected_token: -1,
    error: "",
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

describe("TokenHeatmap view", () => {
  it("renders one span per token with index and value", () => {
    const { el } = setup();
    const root = el.querySelector(".iw-heatmap")!;
    expect(root).not.toBeNull();
    const spans = el.querySelectorAll<HTMLElement>(".iw-token[data-index][data-value]");
    expect(spans).toHaveLength(5);
    expect(spans[1].textContent).toBe("·cat");
    expect(spans[1].dataset.value).toBe("-1");
    expect(spans[3].textContent).toBe("↵");
    expect(spans[1].className).toMatch(/iw-c\d+/);
    expect(el.querySelector(".iw-scale-style")!.textContent).toContain(".iw-c0{");
    expect(el.querySelector(".iw-title")!.textContent).toBe("demo");
    expect(el.querySelector(".iw-legend")!.getAttribute("data-kind")).toBe("diverging");
    expect(el.querySelector(".iw-error")!.hasAttribute("hidden")).toBe(true);
  });

  it("does not run markup in tokens", () => {
    const { el } = setup();
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelectorAll(".iw-token")[4].textContent).toContain("<img");
    expect((globalThis as Record<string, unknown>).__xss).toBeUndefined();
  });

  it("shows several rows, each labelled", () => {
    const { el } = setup({
      tokens: ["a", "b"],
      values: f32([[1, 2], [3, 4], [5, 6]]) as HeatmapModel["values"],
      row_labels: ["L0", "L1", "L2"],
    });
    expect(el.querySelectorAll(".iw-tokens")).toHaveLength(3);
    expect([...el.querySelectorAll(".iw-row-label")].map((x) => x.textContent)).toEqual(["L0", "L1", "L2"]);
    expect(el.querySelector(".iw-legend")!.getAttribute("data-kind")).toBe("sequential");
    expect(el.querySelectorAll<HTMLElement>(".iw-token")[5].dataset.value).toBe("6");
  });

  it("shows one row at a time with a picker when asked, or when the rows are long", async () => {
    const { el, model } = setup({
      tokens: ["a", "b"],
      values: f32([[1, 2], [3, 4], [5, 6]]) as HeatmapModel["values"],
      row_labels: ["L0", "L1", "L2"],
      row_mode: "one",
      selected_row: 1,
    });
    expect(el.querySelectorAll(".iw-tokens")).toHaveLength(1);
    expect(el.querySelectorAll(".iw-row-label")).toHaveLength(0);
    const values = () => [...el.querySelectorAll<HTMLElement>(".iw-token")].map((s) => s.dataset.value);
    expect(values()).toEqual(["3", "4"]);
    const sel = el.querySelector<HTMLSelectElement>("select.iw-row-select")!;
    expect([...sel.options].map((o) => o.textContent)).toEqual(["L0", "L1", "L2"]);
    sel.value = "2";
    sel.dispatchEvent(new Event("change"));
    expect(model.get("selected_row")).toBe(2);
    await tick();
    expect(values()).toEqual(["5", "6"]);
    // the colour scale spans every row, so that rows compare; "own scale" gives the row its own
    const legend = () => el.querySelector(".iw-legend")!.textContent;
    expect(legend()).toContain("6");
    expect(legend()).not.toContain("5");
    const own = el.querySelector<HTMLInputElement>("input.iw-row-scale")!;
    own.checked = true;
    own.dispatchEvent(new Event("change"));
    expect(model.get("row_scale")).toBe("row");
    await tick();
    expect(el.querySelector<HTMLInputElement>("input.iw-row-scale")!.checked).toBe(true);
    model.set("selected_row", 0); // row 0 is [1, 2]: its own range ends at 2, not 6
    await tick();
    expect(legend()).toContain("2");
    expect(legend()).not.toContain("6");
    // "auto": stacked while short, one at a time past PICK_AUTO tokens
    model.set("row_mode", "auto");
    await tick();
    expect(el.querySelectorAll(".iw-tokens")).toHaveLength(3);
    const long = setup({ tokens: Array.from({ length: 3000 }, (_, i) => `t${i}`),
      values: f32([Array(3000).fill(1), Array(3000).fill(2), Array(3000).fill(3)]) as HeatmapModel["values"] });
    expect(long.el.querySelectorAll(".iw-tokens")).toHaveLength(1);
    expect(long.el.querySelector("select.iw-row-select")).not.toBeNull();
  });

  it("click sets selected_token through model.set + save_changes", () => {
    const { el, model } = setup();
    const span = el.querySelectorAll<HTMLElement>(".iw-token")[2];
    span.click();
    expect(model.get("selected_token")).toBe(2);
    expect(model.saved).toBe(1);
    expect(span.classList.contains("iw-selected")).toBe(true);
    span.click();
    expect(model.get("selected_token")).toBe(-1);
  });

  it("shows a visible error on inconsistent data, never a blank", () => {
    const { el } = setup({ values: f32([1, 2, 3]) as HeatmapModel["values"] });
    const err = el.querySelector<HTMLElement>(".iw-error:not([hidden])")!;
    expect(err).not.toBeNull();
    expect(err.textContent).toMatch(/5 tokens but values have 3 columns/);
    expect(el.querySelectorAll(".iw-token")).toHaveLength(5); // the text is still shown
  });

  it("shows non-finite values as an error", () => {
    const { el } = setup({ values: f32([1, NaN, 3, Infinity, 0]) as HeatmapModel["values"] });
    expect(el.querySelector(".iw-error:not([hidden])")!.textContent).toMatch(/2 non-finite.*token 1/);
  });

  it("shows the error trait and redraws on data changes", async () => {
    const { el, model } = setup();
    model.push({ error: "boom" });
    expect([...el.querySelectorAll(".iw-error")].some((e) => e.textContent === "boom")).toBe(true);
    model.push({ tokens: ["x", "y"], values: f32([1, 2]) as HeatmapModel["values"] });
    await tick();
    expect(el.querySelectorAll(".iw-token")).toHaveLength(2);
  });

  it("hover shows a tooltip with token, index and value", () => {
    const { el } = setup();
    const span = el.querySelectorAll<HTMLElement>(".iw-token")[1];
    span.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    const tip = el.querySelector<HTMLElement>(".iw-tooltip")!;
    expect(tip.hidden).toBe(false);
    expect(tip.textContent).toContain("·cat");
    expect(tip.textContent).toContain("#1");
    expect(tip.textContent).toContain("-1");
  });

  it("cleanup removes every listener and the DOM", () => {
    const { el, model, cleanup } = setup();
    expect(model.listenerCount()).toBeGreaterThan(0);
    const span = el.querySelector<HTMLElement>(".iw-token")!;
    cleanup();
    expect(model.listenerCount()).toBe(0);
    expect(el.children).toHaveLength(0);
    span.click();
    expect(model.saved).toBe(0);
  });

  it("honours a forced theme", () => {
    const { el } = setup({ theme: "dark" });
    expect(el.querySelector<HTMLElement>(".iw-root")!.dataset.iwTheme).toBe("dark");
  });
});

describe("theme watching", () => {
  it("calls back on host theme attribute changes and stops after cleanup", async () => {
    const { watchTheme } = await import("../src/lib/theme");
    let n = 0;
    const stop = watchTheme(() => n++);
    document.body.setAttribute("data-jp-theme-light", "false");
    await tick();
    expect(n).toBeGreaterThan(0);
    stop();
    const before = n;
    document.body.classList.add("vscode-dark");
    await tick();
    expect(n).toBe(before);
  });
});
