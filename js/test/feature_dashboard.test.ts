import { afterEach, describe, expect, it } from "vitest";
import widget, { listOrder, renderLogHistogram, ROW_HEIGHT, type FeatureDashboardModel } from "../src/views/feature_dashboard";
import { fakeModel, tick } from "./fake_model";

function f32flat(values: number[]) {
  const a = new Float32Array(values);
  return { view: new DataView(a.buffer), dtype: "float32", shape: [values.length] };
}
function i32(values: number[], shape: number[]) {
  const a = new Int32Array(values);
  return { view: new DataView(a.buffer), dtype: "int32", shape };
}

const XSS = "<img src=x onerror=alert(1)>";
// 4 features; search table: 0 " the", 1 " Paris", 2 XSS, 3 " return"
const TABLE = [" the", " Paris", XSS, " return"];
// width 2: [top token, promoted token]
const IDS = [0, 3, /**/ 1, -1, /**/ -1, -1, /**/ 2, 1];

type Patch = Partial<FeatureDashboardModel>;

function setup(patch: Patch = {}) {
  const model = fakeModel<FeatureDashboardModel>({
    model_name: "SmolLM2",
    hook_name: "blocks.8.hook_resid_post",
    d_sae: 4,
    n_tokens: 1000,
    n_texts: 10,
    density: f32flat([0.1, 0.02, 0, 0.5]) as FeatureDashboardModel["density"],
    max_act: f32flat([3, 7, 0, 1]) as FeatureDashboardModel["max_act"],
    search_ids: i32(IDS, [4, 2]) as FeatureDashboardModel["search_ids"],
    n_top_tokens: 1,
    token_table: TABLE,
    sort_by: "max",
    sort_desc: true,
    search: "",
    selected_feature: -1,
    feature_examples: null,
    feature_hist: null,
    feature_logits: null,
    feature_stats: {},
    prompt: "",
    prompt_tokens: [],
    prompt_features: null,
    prompt_feature_acts: null,
    selected_token: -1,
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

const rowOrder = (el: HTMLElement) => [...el.querySelectorAll<HTMLElement>(".iw-fl-row")].map((r) => Number(r.dataset.feature));

const OPEN: Patch = {
  selected_feature: 1,
  feature_stats: { index: 1, density: 0.02, max: 7, mean: 2, count: 20 },
  feature_examples: {
    tokens: [
      ["in", " Paris", ","],
      [XSS, " Paris"],
    ],
    acts: f32flat([0, 7, 0.5, 0.1, 6]) as never,
    info: [
      { max_pos: 1, text_index: 3, position: 9, activation: 7 },
      { max_pos: 1, text_index: 0, position: 2, activation: 6 },
    ],
    exact: true,
  },
  feature_hist: { counts: i32([0, 2, 5, 0, 1, 0], [6]) as never, edges: f32flat([0.001, 0.01, 0.1, 1, 10, 100, 1000]) as never },
  feature_logits: {
    promoted_tokens: [" Paris", XSS],
    promoted_values: f32flat([2.5, 1]) as never,
    suppressed_tokens: [" London"],
    suppressed_values: f32flat([-3]) as never,
    available: true,
  },
};

afterEach(() => {
  document.body.replaceChildren();
});

describe("FeatureDashboard list", () => {
  it("sorts by max activation, then by density and index when headers are clicked", async () => {
    const { el, model } = setup();
    expect(rowOrder(el)).toEqual([1, 0, 3, 2]);
    expect(el.querySelector(".iw-fl-count")!.textContent).toBe("4 features");
    // labels are the top token, shown with visible spaces
    const label = el.querySelector('.iw-fl-row[data-feature="1"] .iw-fl-label')!;
    expect(label.textContent).toBe("·Paris");
    expect(el.querySelector('.iw-fl-row[data-feature="2"]')!.classList.contains("iw-dead")).toBe(true);
    el.querySelector<HTMLButtonElement>('button[data-sort="density"]')!.click();
    expect(model.get("sort_by")).toBe("density");
    expect(model.saved).toBe(1);
    await tick();
    expect(rowOrder(el)).toEqual([3, 0, 1, 2]);
    el.querySelector<HTMLButtonElement>('button[data-sort="density"]')!.click();
    await tick();
    expect(model.get("sort_desc")).toBe(false);
    expect(rowOrder(el)).toEqual([2, 1, 0, 3]);
    el.querySelector<HTMLButtonElement>('button[data-sort="index"]')!.click();
    await tick();
    expect(rowOrder(el)).toEqual([0, 1, 2, 3]);
  });

  it("filters by a token of the top contexts or of the promoted logits, and by #index", async () => {
    const { el, model } = setup();
    model.push({ search: "paris" });
    await tick();
    // feature 1's top token and feature 3's promoted token are " Paris"
    expect(rowOrder(el).sort()).toEqual([1, 3]);
    expect(el.querySelector(".iw-fl-count")!.textContent).toBe("2 of 4 features");
    model.push({ search: "return" });
    await tick();
    expect(rowOrder(el)).toEqual([0]);
    model.push({ search: "#2" });
    await tick();
    expect(rowOrder(el)).toEqual([2]);
    model.push({ search: "zzz" });
    await tick();
    expect(rowOrder(el)).toEqual([]);
  });

  it("says how many massive-activation tokens the statistics left out", async () => {
    const { el, model } = setup();
    expect(el.querySelector(".iw-summary")!.textContent).not.toContain("left out");
    model.push({ n_outliers: 229 });
    await tick();
    expect(el.querySelector(".iw-summary")!.textContent).toContain("left out229 massive-activation tokens");
  });

  it("typing in the search box sets the search trait", async () => {
    const { el, model } = setup();
    const box = el.querySelector<HTMLInputElement>("input.iw-search")!;
    box.value = "the";
    box.dispatchEvent(new Event("input"));
    await new Promise((r) => setTimeout(r, 200));
    expect(model.get("search")).toBe("the");
    expect(model.saved).toBe(1);
    await tick();
    expect(rowOrder(el)).toEqual([0]);
  });

  it("virtualises: 16k features put only a screenful of rows in the DOM", () => {
    const n = 16384;
    const dens = Array.from({ length: n }, (_, i) => (i % 7) / 100);
    const mx = Array.from({ length: n }, (_, i) => (i * 37) % 1000);
    const { el } = setup({
      d_sae: n,
      density: f32flat(dens) as never,
      max_act: f32flat(mx) as never,
      search_ids: i32(new Array(n * 2).fill(-1), [n, 2]) as never,
    });
    const rows = el.querySelectorAll(".iw-fl-row");
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.length).toBeLessThan(60);
    const spacer = el.querySelector<HTMLElement>(".iw-fl-spacer")!;
    expect(spacer.style.height).toBe(`${n * ROW_HEIGHT}px`);
    const scroller = el.querySelector<HTMLElement>(".iw-fl-scroll")!;
    scroller.scrollTop = 5000 * ROW_HEIGHT;
    scroller.dispatchEvent(new Event("scroll"));
    const first = el.querySelector<HTMLElement>(".iw-fl-row")!;
    const order = listOrder({ n, density: new Float32Array(dens), maxAct: new Float32Array(mx), sortBy: "max", desc: true, search: "", searchIds: null, width: 0, table: [] });
    expect(Number(first.dataset.feature)).toBe(order[5000 - 8]);
  });

  it("clicking a row sets selected_feature and saves", () => {
    const { el, model } = setup();
    el.querySelector<HTMLElement>('.iw-fl-row[data-feature="3"] .iw-fl-label')!.click();
    expect(model.get("selected_feature")).toBe(3);
    expect(model.saved).toBe(1);
  });

  it("a static page does not open other features and says why", () => {
    const { el, model } = setup({ interactive: false, ...OPEN });
    expect(el.querySelector<HTMLElement>(".iw-static-note")!.hidden).toBe(false);
    el.querySelector<HTMLElement>('.iw-fl-row[data-feature="3"]')!.click();
    expect(model.get("selected_feature")).toBe(1);
    expect(model.saved).toBe(0);
    expect(el.querySelector(".iw-error")!.textContent).toContain("needs Python");
    expect(el.querySelector<HTMLInputElement>("input.iw-prompt-input")!.disabled).toBe(true);
    // the open feature's data is there
    expect(el.querySelectorAll(".iw-example")).toHaveLength(2);
  });
});

describe("FeatureDashboard open feature", () => {
  it("renders examples (max token outlined, coloured), histogram, logits and stats", () => {
    const { el } = setup(OPEN);
    expect(el.querySelector(".iw-fd-title")!.textContent).toContain("Feature #1");
    const examples = el.querySelectorAll<HTMLElement>(".iw-example");
    expect(examples).toHaveLength(2);
    const max = examples[0].querySelector(".iw-max")!;
    expect(max.textContent).toBe("·Paris");
    expect(max.getAttribute("data-value")).toBe("7");
    expect(max.className).toMatch(/iw-c\d+/);
    // token text is text, never markup
    expect(el.querySelector("img")).toBeNull();
    expect(examples[1].querySelector(".iw-token")!.textContent).toBe(XSS);
    expect(el.querySelectorAll(".iw-hist rect.iw-bar")).toHaveLength(3);
    expect(el.querySelector(".iw-logit-list.iw-pos")!.textContent).toContain(XSS);
    expect(el.querySelector(".iw-logit-list.iw-neg")!.textContent).toContain("·London");
    expect(el.querySelector(".iw-fd-stats")!.textContent).toContain("2%");
    expect(el.querySelector('.iw-fl-row[data-feature="1"]')!.classList.contains("iw-current")).toBe(true);
  });

  it("updates when Python sends a feature after a click", async () => {
    const { el, model } = setup();
    expect(el.querySelector(".iw-fd-title")!.textContent).toBe("No feature open");
    el.querySelector<HTMLElement>('.iw-fl-row[data-feature="1"]')!.click();
    await tick();
    expect(el.querySelector(".iw-fd-note")!.textContent).toBe("loading…");
    model.push(OPEN);
    await tick();
    expect(el.querySelectorAll(".iw-example")).toHaveLength(2);
  });

  it("log histogram trims empty bins and labels the ends", () => {
    const svg = renderLogHistogram(new Int32Array([0, 2, 5, 0, 1, 0]), new Float32Array([0.001, 0.01, 0.1, 1, 10, 100, 1000]))!;
    expect(svg.querySelectorAll("rect")).toHaveLength(3);
    const labels = [...svg.querySelectorAll("text")].map((t) => t.textContent);
    expect(labels).toContain("0.01");
    expect(labels).toContain("100");
    expect(renderLogHistogram(new Int32Array([0, 0]), new Float32Array([1, 2, 3]))).toBeNull();
  });
});

describe("FeatureDashboard prompt mode", () => {
  const PROMPT: Patch = {
    prompt: "Hi Paris",
    prompt_tokens: ["Hi", " Paris", XSS],
    prompt_features: {
      ids: i32([3, -1, 1, 0, -1, -1], [3, 2]) as never,
      acts: f32flat([0.5, 0, 6, 1, 0, 0]) as never,
    },
  };

  it("submitting the text box sets prompt", () => {
    const { el, model } = setup();
    const box = el.querySelector<HTMLInputElement>("input.iw-prompt-input")!;
    box.value = "The city of Paris";
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
    expect(model.get("prompt")).toBe("The city of Paris");
    expect(model.saved).toBe(1);
  });

  it("clicking a token lists its features; clicking one opens it", async () => {
    const { el, model } = setup(PROMPT);
    const toks = el.querySelectorAll<HTMLElement>(".iw-prompt-tokens .iw-token");
    expect(toks).toHaveLength(3);
    expect(toks[2].textContent).toBe(XSS);
    expect(el.querySelector("img")).toBeNull();
    toks[1].click();
    expect(model.get("selected_token")).toBe(1);
    await tick();
    const items = el.querySelectorAll<HTMLButtonElement>(".iw-pf-item");
    expect([...items].map((b) => b.dataset.feature)).toEqual(["1", "0"]);
    expect(items[0].textContent).toContain("·Paris");
    items[0].click();
    expect(model.get("selected_feature")).toBe(1);
    // a token with no active feature says so
    el.querySelectorAll<HTMLElement>(".iw-prompt-tokens .iw-token")[2].click();
    await tick();
    expect(el.querySelectorAll(".iw-pf-item")).toHaveLength(0);
    expect(el.querySelector(".iw-pf-title")!.textContent).toContain("No feature is active");
  });

  it("colours the prompt by the open feature when Python sends its activations", async () => {
    const { el, model } = setup({ ...PROMPT, ...OPEN });
    let toks = el.querySelectorAll<HTMLElement>(".iw-prompt-tokens .iw-token");
    expect(el.querySelector<HTMLElement>(".iw-prompt-tokens")!.dataset.colour).toBe("strongest");
    expect(toks[1].dataset.value).toBe("6");
    model.push({ prompt_feature_acts: f32flat([0, 4.5, 0.25]) as never });
    await tick();
    toks = el.querySelectorAll<HTMLElement>(".iw-prompt-tokens .iw-token");
    expect(el.querySelector<HTMLElement>(".iw-prompt-tokens")!.dataset.colour).toBe("feature");
    expect([...toks].map((t) => t.dataset.value)).toEqual(["0", "4.5", "0.25"]);
    expect(toks[1].className).toMatch(/iw-c\d+/);
    expect(el.querySelector(".iw-prompt-note")!.textContent).toContain("feature #1");
  });

  it("removes every listener on cleanup", () => {
    const { model, cleanup, el } = setup(PROMPT);
    expect(model.listenerCount()).toBeGreaterThan(0);
    cleanup();
    expect(model.listenerCount()).toBe(0);
    expect(el.querySelector(".iw-features")).toBeNull();
  });
});
