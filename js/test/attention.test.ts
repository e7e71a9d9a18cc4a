import { afterEach, describe, expect, it } from "vitest";
import widget, { type AttentionModel } from "../src/views/attention";
import { fakeModel, tick } from "./fake_model";

const EVIL = '<img src=x onerror="window.__xss=1">';
const TOKENS = ["The", " cat", " sat", "\n", EVIL];
const L = 3;
const H = 2;
const N = TOKENS.length;

/** Causal uniform attention, except head (1, 1) which looks at the previous token. */
function weights(l: number, h: number, q: number, k: number): number {
  if (k > q) return 0;
  if (l === 1 && h === 1) return q === 0 ? 1 : k === q - 1 ? 1 : 0;
  return 1 / (q + 1);
}

/** uint8 thumbnails as Python encodes them: round(255 * sqrt(w)). */
function thumbs() {
  const a = new Uint8Array(L * H * N * N);
  for (let l = 0; l < L; l++)
    for (let h = 0; h < H; h++)
      for (let q = 0; q < N; q++)
        for (let k = 0; k < N; k++) a[((l * H + h) * N + q) * N + k] = Math.round(255 * Math.sqrt(weights(l, h, q, k)));
  return { view: new DataView(a.buffer), dtype: "uint8", shape: [L, H, N, N] };
}

/** float32 [D, L, H] scores: previous_token highest on (1, 1), induction on (2, 0). */
function scores() {
  const s = new Float32Array(2 * L * H);
  for (let l = 0; l < L; l++)
    for (let h = 0; h < H; h++) {
      s[l * H + h] = l === 1 && h === 1 ? 0.9 : 0.1 * (l + h);
      s[L * H + l * H + h] = l === 2 && h === 0 ? 0.8 : 0.05;
    }
  return { view: new DataView(s.buffer), dtype: "float32", shape: [2, L, H] };
}

function headPattern(l: number, h: number) {
  const f = new Float32Array(N * N);
  for (let q = 0; q < N; q++) for (let k = 0; k < N; k++) f[q * N + k] = weights(l, h, q, k);
  return { view: new DataView(f.buffer), dtype: "float32", shape: [N, N] };
}

function setup(patch: Partial<AttentionModel> = {}) {
  const model = fakeModel<AttentionModel>({
    tokens: TOKENS,
    thumbs: thumbs() as AttentionModel["thumbs"],
    thumb_encoding: "sqrt",
    detectors: ["previous_token", "induction"],
    head_scores: scores() as AttentionModel["head_scores"],
    causal: true,
    title: "demo",
    selected_layer: -1,
    selected_head: -1,
    head_pattern: null,
    head_pattern_of: [],
    selected_token: -1,
    sort_by: "",
    ablated_heads: [],
    ablate_mode: "zero",
    ablation: {},
    ablation_busy: false,
    ablation_error: "",
    can_ablate: true,
    detector: "previous_token",
    line_view: false,
    error: "",
    theme: "auto",
    ...patch,
  });
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = widget.render({ model, el });
  return { model, el, cleanup };
}

const order = (el: HTMLElement) =>
  [...el.querySelectorAll<HTMLElement>(".iw-thumb")].map((t) => `${t.dataset.layer},${t.dataset.head}`);

afterEach(() => {
  document.body.replaceChildren();
});

describe("AttentionView", () => {
  it("renders a thumbnail grid of every layer x head with detector scores", () => {
    const { el } = setup();
    expect(el.querySelector(".iw-attention")).not.toBeNull();
    const thumbsEls = el.querySelectorAll<HTMLElement>(".iw-thumb[data-layer][data-head]");
    expect(thumbsEls).toHaveLength(L * H);
    expect(thumbsEls[0].querySelector("canvas")!.width).toBe(N);
    expect(order(el).slice(0, 3)).toEqual(["0,0", "0,1", "1,0"]);
    const badge = el.querySelector<HTMLElement>('.iw-thumb[data-layer="1"][data-head="1"] .iw-thumb-score')!;
    expect(badge.textContent).toBe(".90");
    expect(el.querySelector(".iw-error:not([hidden])")).toBeNull();
    expect(el.querySelector(".iw-head-matrix")).toBeNull(); // nothing open yet
    expect(el.querySelector(".iw-hint")!.textContent).toMatch(/Click a head/);
  });

  it("click on a thumbnail selects the head and opens its matrix with labels", async () => {
    const { el, model } = setup();
    el.querySelector<HTMLElement>('.iw-thumb[data-layer="1"][data-head="1"]')!.click();
    expect(model.get("selected_layer")).toBe(1);
    expect(model.get("selected_head")).toBe(1);
    expect(model.saved).toBe(1);
    await tick();
    let box = el.querySelector<HTMLElement>(".iw-head-matrix[data-layer='1'][data-head='1']")!;
    expect(box).not.toBeNull();
    expect(box.dataset.kind).toBe("preview"); // thumbnail bytes until Python answers
    const q = box.querySelectorAll<HTMLElement>(".iw-qlabels .iw-token[data-index]");
    expect([...q].map((s) => s.textContent)).toEqual(["The", "·cat", "·sat", "↵", EVIL]);
    expect(box.querySelectorAll(".iw-klabels .iw-token")).toHaveLength(N);
    expect(box.querySelector("canvas")!.width).toBe(N);
    expect(el.querySelector(".iw-thumb.iw-active")!.getAttribute("data-layer")).toBe("1");
    // Python fills the full-precision head.
    model.push({ head_pattern: headPattern(1, 1) as AttentionModel["head_pattern"], head_pattern_of: [1, 1] });
    await tick();
    box = el.querySelector<HTMLElement>(".iw-head-matrix")!;
    expect(box.dataset.kind).toBe("full");
    // A pattern for another head is not used.
    model.push({ head_pattern_of: [0, 0] });
    await tick();
    expect(el.querySelector<HTMLElement>(".iw-head-matrix")!.dataset.kind).toBe("preview");
  });

  it("hovering a token highlights what it attends to and what attends to it", () => {
    const { el, model } = setup({
      selected_layer: 1,
      selected_head: 1,
      head_pattern: headPattern(1, 1) as AttentionModel["head_pattern"],
      head_pattern_of: [1, 1],
    });
    const q2 = el.querySelector<HTMLElement>(".iw-qlabels .iw-token[data-index='2']")!;
    q2.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(model.get("selected_token")).toBe(2);
    const hl = (side: string) =>
      [...el.querySelectorAll<HTMLElement>(`.iw-${side}labels .iw-token.iw-hl`)].map((s) => Number(s.dataset.index));
    // Previous-token head: token 2 attends to key 1, and query 3 attends to token 2.
    expect(hl("k")).toEqual([1, 2]);
    expect(hl("q")).toEqual([2, 3]);
    expect(q2.classList.contains("iw-focus")).toBe(true);
    expect(el.querySelector(".iw-readout")!.textContent).toContain("·sat attends to #1 ·cat 1");
    // Leaving the matrix clears the preview; a click pins the token.
    el.querySelector(".iw-detail")!.dispatchEvent(new MouseEvent("mouseleave"));
    expect(model.get("selected_token")).toBe(-1);
    expect(el.querySelectorAll(".iw-hl")).toHaveLength(0);
    q2.click();
    el.querySelector(".iw-detail")!.dispatchEvent(new MouseEvent("mouseleave"));
    expect(model.get("selected_token")).toBe(2);
    // Python (or another view) moves the selection: the highlight follows.
    model.push({ selected_token: 4 });
    expect(hl("k")).toEqual([3, 4]);
  });

  it("badges show your own scores outside [0, 1] as they are", () => {
    const s = new Float32Array(2 * L * H).fill(0.5);
    s[0] = 5; // previous_token of L0H0
    s[1] = -2.5; // L0H1
    s[2] = 1234; // L1H0
    const { el } = setup({ head_scores: { view: new DataView(s.buffer), dtype: "float32", shape: [2, L, H] } as AttentionModel["head_scores"] });
    const badge = (l: number, h: number) =>
      el.querySelector<HTMLElement>(`.iw-thumb[data-layer="${l}"][data-head="${h}"] .iw-thumb-score`)!.textContent;
    expect([badge(0, 0), badge(0, 1), badge(1, 0), badge(1, 1)]).toEqual(["5.0", "-2.5", "1e3", ".50"]);
  });

  it("a sentence pair is divided where the second sentence starts", async () => {
    const { el, model } = setup({ pair_start: 3, causal: false, can_ablate: false });
    el.querySelector<HTMLElement>('.iw-thumb[data-layer="1"][data-head="1"]')!.click();
    await tick();
    const lines = el.querySelectorAll<HTMLElement>(".iw-cells .iw-pair-divider");
    expect(lines).toHaveLength(2);
    expect(lines[0].title).toContain("#3");
    model.set("line_view", true);
    await tick();
    const marked = [...el.querySelectorAll<HTMLElement>(".iw-lines .iw-token.iw-pair-start")];
    expect(marked.map((s) => s.dataset.index)).toEqual(["3", "3"]);
    model.set("pair_start", -1); // one text: no divider
    model.set("line_view", false);
    await tick();
    expect(el.querySelectorAll(".iw-pair-divider")).toHaveLength(0);
  });

  it("patterns without a model behind them offer no head switching", () => {
    const { el } = setup({ can_ablate: false });
    expect(el.querySelector<HTMLElement>(".iw-ablation")!.hidden).toBe(true);
    expect(el.querySelector(".iw-hint")!.textContent).not.toMatch(/switches it off/);
  });

  it("an encoder's view offers no head switching (it has no next token to compare)", async () => {
    const { el, model } = setup({ causal: false, can_ablate: false });
    expect(el.querySelector<HTMLElement>(".iw-ablation")!.hidden).toBe(true);
    expect(el.querySelector(".iw-hint")!.textContent).not.toMatch(/switches it off/);
    const thumb = el.querySelector<HTMLElement>('.iw-thumb[data-layer="1"][data-head="1"]')!;
    thumb.dispatchEvent(new MouseEvent("click", { bubbles: true, altKey: true }));
    expect(model.get("ablated_heads")).toEqual([]);
    expect(model.get("selected_layer")).toBe(1); // an alt-click just opens the head
    await tick();
    expect(el.querySelector(".iw-head-matrix")).not.toBeNull();
    expect(el.querySelector(".iw-ablate-toggle")).toBeNull();
  });

  it("the sort select ranks heads by a detector", async () => {
    const { el, model } = setup();
    const sel = el.querySelector<HTMLSelectElement>("select.iw-sort")!;
    expect([...sel.options].map((o) => o.value)).toEqual(["", "previous_token", "induction"]);
    sel.value = "induction";
    sel.dispatchEvent(new Event("change"));
    expect(model.get("sort_by")).toBe("induction");
    expect(model.get("detector")).toBe("induction");
    await tick();
    expect(order(el)[0]).toBe("2,0");
    expect(el.querySelector(".iw-thumb .iw-thumb-caption")!.textContent).toBe("L2H0");
    expect(el.querySelector(".iw-thumb .iw-thumb-score")!.textContent).toBe(".80");
    model.push({ sort_by: "previous_token" });
    await tick();
    expect(order(el)[0]).toBe("1,1");
    model.push({ sort_by: "" });
    await tick();
    expect(order(el).slice(0, 2)).toEqual(["0,0", "0,1"]);
  });

  it("shows token markup as text and runs nothing", () => {
    const { el } = setup({ selected_layer: 0, selected_head: 0, line_view: true });
    expect(el.querySelector("img")).toBeNull();
    const evil = el.querySelector<HTMLElement>(".iw-head-matrix .iw-token[data-index='4']")!;
    expect(evil.textContent).toBe(EVIL);
    expect((globalThis as Record<string, unknown>).__xss).toBeUndefined();
  });

  it("toggles the line view for short texts", async () => {
    const { el, model } = setup({ selected_layer: 0, selected_head: 1 });
    const toggle = el.querySelector<HTMLButtonElement>(".iw-lines-toggle")!;
    expect(toggle.disabled).toBe(false);
    toggle.click();
    expect(model.get("line_view")).toBe(true);
    await tick();
    const box = el.querySelector<HTMLElement>(".iw-head-matrix")!;
    expect(box.dataset.mode).toBe("lines");
    expect(box.querySelectorAll(".iw-lines .iw-token[data-side='query']")).toHaveLength(N);
    expect(box.querySelectorAll(".iw-lines .iw-token[data-side='key']")).toHaveLength(N);
    expect(el.querySelector(".iw-lines-toggle")!.getAttribute("aria-pressed")).toBe("true");
  });

  it("shows bad data as an error, never a blank", () => {
    const { el } = setup({ thumbs: { view: new DataView(new ArrayBuffer(8)), dtype: "uint8", shape: [1, 1, 3, 3] } });
    expect(el.querySelector(".iw-error:not([hidden])")!.textContent).toMatch(/needs 9 values but 8/);
    expect(el.querySelectorAll(".iw-token")).toHaveLength(N); // the text is still shown
    const { el: el2 } = setup({ head_scores: { view: new DataView(new ArrayBuffer(4)), dtype: "float32", shape: [1] } });
    expect(el2.querySelector(".iw-error:not([hidden])")!.textContent).toMatch(/head scores must be \[2, 3, 2\]/);
    expect(el2.querySelectorAll(".iw-thumb")).toHaveLength(L * H); // the heads still show
  });

  it("cleanup removes every listener and the DOM", () => {
    const { el, model, cleanup } = setup();
    const thumb = el.querySelector<HTMLElement>(".iw-thumb")!;
    cleanup();
    expect(model.listenerCount()).toBe(0);
    expect(el.children).toHaveLength(0);
    thumb.click();
    expect(model.saved).toBe(0);
  });
});
