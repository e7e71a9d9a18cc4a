import { afterEach, describe, expect, it } from "vitest";
import { createAblationPanel, toggleHead, type AblationHost } from "../src/lib/ablation_panel";
import attention, { type AttentionModel } from "../src/views/attention";
import patching, { type PatchingModel } from "../src/views/patching";
import { f32, fakeModel, tick } from "./fake_model";

const EVIL = '<img src=x onerror="window.__xss=1">';

/** The `ablation` trait as Python sends it (float32 [rows, 2] before/after). */
function panelData(heads: number[][], mode = "zero") {
  return {
    heads,
    mode,
    tokens: [" Paris", " the", EVIL],
    probs: f32([
      [0.6, 0.2],
      [0.1, 0.3],
      [0.05, 0.01],
    ]),
    movers: [" Paris", " the"],
    mover_probs: f32([
      [0.6, 0.2],
      [0.1, 0.3],
    ]),
    kl: 0.4321,
    logprob_change: -1.0986,
  };
}

function traits(patch: Record<string, unknown> = {}) {
  return { ablated_heads: [], ablate_mode: "zero", ablation: {}, ablation_busy: false, ablation_error: "", can_ablate: true, ...patch };
}

function attentionView(patch: Partial<AttentionModel> = {}) {
  const L = 2, H = 2, N = 3;
  const a = new Uint8Array(L * H * N * N).fill(100);
  const model = fakeModel<AttentionModel>({
    tokens: ["The", " cat", " sat"],
    thumbs: { view: new DataView(a.buffer), dtype: "uint8", shape: [L, H, N, N] },
    thumb_encoding: "sqrt",
    detectors: [],
    head_scores: null,
    causal: true,
    title: "t",
    selected_layer: 1,
    selected_head: 0,
    head_pattern: null,
    head_pattern_of: [],
    selected_token: -1,
    sort_by: "",
    detector: "",
    line_view: false,
    error: "",
    theme: "auto",
    ...(traits() as Partial<AttentionModel>),
    ...patch,
  } as AttentionModel);
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = attention.render({ model, el });
  return { model, el, cleanup };
}

afterEach(() => document.body.replaceChildren());

describe("ablation panel", () => {
  it("lists before/after rows from Python's arrays, as text only", () => {
    const model = fakeModel(traits({ ablated_heads: [[1, 0]], ablation: panelData([[1, 0]]) }));
    const p = createAblationPanel(model as unknown as AblationHost);
    document.body.appendChild(p.el);
    const rows = [...p.el.querySelectorAll<HTMLElement>(".iw-ablation-row")];
    expect(rows.map((r) => r.dataset.token)).toEqual([" Paris", " the", EVIL]);
    expect(Number(rows[0].dataset.before)).toBeCloseTo(0.6, 6);
    expect(Number(rows[0].dataset.after)).toBeCloseTo(0.2, 6);
    expect(rows[0].textContent).toContain("60.0%");
    expect(rows[0].textContent).toContain("→ 20.0%");
    expect(rows[2].querySelector(".iw-abl-tok")!.textContent).toBe(EVIL);
    expect(p.el.querySelector("img")).toBeNull();
    expect(p.el.querySelector(".iw-abl-stats")!.textContent).toContain("0.4321");
    expect(p.el.querySelectorAll(".iw-ablation-mover")).toHaveLength(2);
    expect(p.el.dataset.stale).toBe("false");
    expect(p.el.querySelector<HTMLElement>('.iw-ablate-chip[data-layer="1"][data-head="0"]')).not.toBeNull();
  });

  it("names what it compares: the next token by default, a masked LM's [MASK] or a classifier's class", () => {
    const p = createAblationPanel(fakeModel(traits()) as unknown as AblationHost);
    expect(p.el.querySelector("h4")!.textContent).toBe("Next token: before → after");
    expect(p.el.textContent).toContain("how the next-token distribution moves");
    const q = createAblationPanel(fakeModel(traits({ ablation_readout: "token at [MASK] #6" })) as unknown as AblationHost);
    expect(q.el.querySelector("h4")!.textContent).toBe("Token at [MASK] #6: before → after");
    expect(q.el.textContent).toContain("how the distribution of the token at [MASK] #6 moves");
    const c = createAblationPanel(
      fakeModel(traits({ ablation_readout: "class", ablated_heads: [[1, 0]], ablation: panelData([[1, 0]]) })) as unknown as AblationHost);
    expect(c.el.querySelector("h4")!.textContent).toBe("Class: before → after");
    expect(c.el.querySelector<HTMLElement>(".iw-abl-stats")!.title).toContain("class distribution");
    expect(c.el.querySelector(".iw-abl-cols")!.textContent).toContain("class");
  });

  it("an encoder's attention view offers ablation when Python can run it (can_ablate), not otherwise", () => {
    const live = attentionView({ causal: false, can_ablate: true } as Partial<AttentionModel>);
    expect(live.el.querySelector<HTMLElement>(".iw-ablation")!.hidden).toBe(false);
    document.body.replaceChildren();
    const bare = attentionView({ causal: false, can_ablate: false } as Partial<AttentionModel>);
    expect(bare.el.querySelector<HTMLElement>(".iw-ablation")!.hidden).toBe(true);
  });

  it("mode select, chips, clear and the picker set the traits", () => {
    const model = fakeModel(traits({ ablated_heads: [[0, 1]], ablation: panelData([[0, 1]]) }));
    const host = model as unknown as AblationHost;
    const p = createAblationPanel(host, { picker: () => ({ layers: 3, heads: 4 }) });
    document.body.appendChild(p.el);
    const sel = p.el.querySelector<HTMLSelectElement>("select.iw-ablate-mode")!;
    sel.value = "mean";
    sel.dispatchEvent(new Event("change"));
    expect(model.get("ablate_mode")).toBe("mean");
    p.el.querySelector<HTMLSelectElement>(".iw-ablate-layer")!.value = "2";
    p.el.querySelector<HTMLSelectElement>(".iw-ablate-head")!.value = "3";
    p.el.querySelector<HTMLButtonElement>(".iw-ablate-add")!.click();
    expect(model.get("ablated_heads")).toEqual([[0, 1], [2, 3]]);
    p.update();
    p.el.querySelector<HTMLButtonElement>('.iw-ablate-chip[data-layer="0"]')!.click();
    expect(model.get("ablated_heads")).toEqual([[2, 3]]);
    p.update();
    p.el.querySelector<HTMLButtonElement>(".iw-ablate-clear")!.click();
    expect(model.get("ablated_heads")).toEqual([]);
    expect(model.saved).toBe(4);
  });

  it("busy, errors, empty and static states", () => {
    const model = fakeModel(traits({ ablation_busy: true, ablated_heads: [[0, 0]] }));
    const host = model as unknown as AblationHost;
    const p = createAblationPanel(host);
    expect(p.el.dataset.busy).toBe("true");
    expect(p.el.querySelector<HTMLElement>(".iw-abl-busy")!.hidden).toBe(false);
    expect(toggleHead(host, 1, 1)).toBe(false); // nothing while the model runs
    model.set("ablation_busy", false);
    model.set("ablation_error", "ValueError: head 9 is out of range");
    p.update();
    expect(p.el.dataset.busy).toBe("false");
    expect(p.el.querySelector(".iw-error:not([hidden])")!.textContent).toContain("head 9");
    expect(p.el.querySelectorAll(".iw-ablation-row")).toHaveLength(0);
    const s = fakeModel(traits({ can_ablate: false }));
    const q = createAblationPanel(s as unknown as AblationHost);
    expect(q.el.querySelector<HTMLElement>(".iw-abl-note")!.hidden).toBe(false);
    expect(q.el.querySelector<HTMLSelectElement>("select.iw-ablate-mode")!.disabled).toBe(true);
    expect(toggleHead(s as unknown as AblationHost, 0, 0)).toBe(false);
  });
});

describe("AttentionView ablation", () => {
  it("the opened head's toggle switches it off; Python's panel shows; the thumbnail greys", async () => {
    const { el, model, cleanup } = attentionView();
    const t = el.querySelector<HTMLButtonElement>('.iw-detail-head .iw-ablate-toggle[data-layer="1"][data-head="0"]')!;
    expect(t.getAttribute("aria-pressed")).toBe("false");
    t.click();
    expect(model.get("ablated_heads")).toEqual([[1, 0]]);
    model.push({ ablation_busy: true });
    await tick();
    expect(el.querySelector<HTMLElement>(".iw-ablation")!.dataset.busy).toBe("true");
    expect(el.querySelector<HTMLButtonElement>(".iw-ablate-toggle")!.disabled).toBe(true);
    model.push({ ablation: panelData([[1, 0]]) as AttentionModel["ablation"], ablation_busy: false });
    await tick();
    expect(el.querySelector<HTMLElement>(".iw-ablation")!.dataset.busy).toBe("false");
    expect(el.querySelectorAll(".iw-ablation .iw-ablation-row")).toHaveLength(3);
    expect(el.querySelector(".iw-ablate-toggle")!.getAttribute("aria-pressed")).toBe("true");
    expect(el.querySelector('.iw-thumb[data-layer="1"][data-head="0"]')!.classList.contains("iw-ablated")).toBe(true);
    expect(el.querySelectorAll(".iw-thumb.iw-ablated")).toHaveLength(1);
    // Shift-click on another thumbnail adds it; it does not open it.
    el.querySelector<HTMLElement>('.iw-thumb[data-layer="0"][data-head="1"]')!.dispatchEvent(
      new MouseEvent("click", { bubbles: true, shiftKey: true }),
    );
    expect(model.get("ablated_heads")).toEqual([[0, 1], [1, 0]]);
    expect(model.get("selected_layer")).toBe(1);
    // Clearing (Python answers with an empty panel).
    model.push({ ablated_heads: [], ablation: {} });
    await tick();
    expect(el.querySelectorAll(".iw-ablation-row")).toHaveLength(0);
    expect(el.querySelectorAll(".iw-thumb.iw-ablated")).toHaveLength(0);
    const before = model.listenerCount();
    expect(before).toBeGreaterThan(0);
    cleanup();
    expect(model.listenerCount()).toBe(0);
  });

  it("static: toggles disabled with a note, a precomputed panel still shows", () => {
    const { el, model } = attentionView({ can_ablate: false, ablated_heads: [[1, 0]], ablation: panelData([[1, 0]]) as AttentionModel["ablation"] });
    const t = el.querySelector<HTMLButtonElement>(".iw-ablate-toggle")!;
    expect(t.disabled).toBe(true);
    expect(t.title).toMatch(/needs Python/);
    t.click();
    el.querySelector<HTMLElement>('.iw-thumb[data-layer="0"][data-head="0"]')!.dispatchEvent(
      new MouseEvent("click", { bubbles: true, altKey: true }),
    );
    expect(model.get("ablated_heads")).toEqual([[1, 0]]);
    expect(el.querySelector<HTMLElement>(".iw-abl-note")!.hidden).toBe(false);
    expect(el.querySelectorAll(".iw-ablation-row")).toHaveLength(3);
  });
});

describe("PatchingView ablation", () => {
  it("a selected head cell has a toggle; the picker and panel work", async () => {
    const model = fakeModel<PatchingModel>({
      values: { ...f32([0.5, -0.5, 1, 0]), shape: [2, 2] } as PatchingModel["values"],
      site: "z",
      positions: "all",
      method: "exact",
      metric: "m",
      clean_metric: 1,
      corrupted_metric: 0,
      clean_tokens: ["a", "b"],
      corrupted_tokens: ["a", "c"],
      title: "",
      selected_cell: [1, -1, 1],
      top_cell: [1, -1, 1],
      top_tokens: [" x"],
      top_probs: f32([0.5]) as PatchingModel["top_probs"],
      busy: false,
      error: "",
      interactive: true,
      n_model_heads: 2,
      theme: "auto",
      ...(traits() as Partial<PatchingModel>),
    } as PatchingModel);
    const el = document.createElement("div");
    document.body.appendChild(el);
    const cleanup = patching.render({ model, el });
    await tick();
    const t = el.querySelector<HTMLButtonElement>('.iw-patch-cell .iw-ablate-toggle[data-layer="1"][data-head="1"]')!;
    t.click();
    expect(model.get("ablated_heads")).toEqual([[1, 1]]);
    expect(el.querySelectorAll(".iw-ablate-layer option")).toHaveLength(2);
    expect(el.querySelectorAll(".iw-ablate-head option")).toHaveLength(2);
    expect(el.querySelector(".iw-abl-caption")!.textContent).toMatch(/clean prompt/);
    model.push({ ablation: panelData([[1, 1]]) as PatchingModel["ablation"] });
    await tick();
    expect(el.querySelectorAll(".iw-ablation .iw-ablation-row")).toHaveLength(3);
    expect(el.querySelector(".iw-patch-cell .iw-ablate-toggle")!.getAttribute("aria-pressed")).toBe("true");
    cleanup();
    expect(model.listenerCount()).toBe(0);
  });
});
