import { afterEach, describe, expect, it } from "vitest";
import widget, { CELL_H, CELL_W, cellLabel, formatProb, rankLabel, type LogitLensModel } from "../src/views/logit_lens";
import { fakeModel, tick } from "./fake_model";

const EVIL = '<img src=x onerror="window.__xss=1">';
const TOKENS = ["The", " Eiffel", " Tower", " is", " in"];
const LAYERS = ["embed", "0", "1"];
const ROWS = LAYERS.length;
const POS = TOKENS.length;
const K = 3;

/** Binary payloads as Python's array_to_json sends them (a DataView over the bytes). */
function payload(data: Float32Array | Int32Array, shape: number[]) {
  return { view: new DataView(data.buffer), dtype: data instanceof Int32Array ? "int32" : "float32", shape };
}

function lensArrays() {
  const ids = new Int32Array(ROWS * POS * K);
  const probs = new Float32Array(ROWS * POS * K);
  for (let r = 0; r < ROWS; r++)
    for (let c = 0; c < POS; c++)
      for (let j = 0; j < K; j++) {
        const i = (r * POS + c) * K + j;
        ids[i] = j === 0 ? 10 + r : j === 1 ? 20 : 30; // top-1 differs per row
        probs[i] = [0.5, 0.25, 0.125][j];
      }
  return { top_ids: payload(ids, [ROWS, POS, K]), top_probs: payload(probs, [ROWS, POS, K]) };
}

function tracked() {
  const rank = new Int32Array(ROWS * POS);
  const prob = new Float32Array(ROWS * POS);
  for (let i = 0; i < rank.length; i++) {
    rank[i] = 100 - i;
    prob[i] = i / rank.length;
  }
  return {
    tracked_labels: [" Paris"],
    tracked_ids: [20],
    tracked_rank: payload(rank, [1, ROWS, POS]),
    tracked_prob: payload(prob, [1, ROWS, POS]),
    track_index: 0,
  };
}

function setup(patch: Partial<LogitLensModel> = {}) {
  const model = fakeModel<LogitLensModel>({
    tokens: TOKENS,
    layers: LAYERS,
    ...(lensArrays() as Pick<LogitLensModel, "top_ids" | "top_probs">),
    vocab: { "10": " the", "11": " a", "12": " Paris", "20": " Paris", "30": EVIL },
    tracked_labels: [],
    tracked_ids: [],
    tracked_rank: null,
    tracked_prob: null,
    mode: "top",
    track_index: -1,
    track_request: "",
    selected_token: -1,
    model_name: "tiny",
    busy: false,
    error: "",
    interactive: true,
    theme: "auto",
    ...patch,
  });
  const el = document.createElement("div");
  document.body.appendChild(el);
  const cleanup = widget.render({ model, el });
  return { model, el, cleanup, root: el.querySelector<HTMLElement>(".iw-lens")! };
}

/** Hover the cell at data row `r` (0 = embed, drawn at the bottom), position `c`. */
function hover(el: HTMLElement, r: number, c: number) {
  const stage = el.querySelector<HTMLElement>(".iw-stage")!;
  const y = (ROWS - 1 - r) * CELL_H + 5; // happy-dom lays nothing out: rects start at 0
  stage.dispatchEvent(new MouseEvent("mousemove", { clientX: c * CELL_W + 5, clientY: y, bubbles: true }));
}

afterEach(() => {
  document.body.replaceChildren();
});

describe("LogitLensView", () => {
  it("renders layer rows (final on top), token columns and a canvas", () => {
    const { el, root } = setup();
    expect(root.dataset.mode).toBe("top");
    const rows = [...el.querySelectorAll<HTMLElement>(".iw-layer[data-row]")];
    expect(rows.map((r) => r.dataset.row)).toEqual(["2", "1", "0"]);
    expect(rows.map((r) => r.textContent)).toEqual(["1", "0", "embed"]);
    const cols = el.querySelectorAll<HTMLElement>(".iw-token[data-index]");
    expect(cols).toHaveLength(POS);
    expect(cols[1].textContent).toBe("·Eiffel"); // whitespace shown visibly
    expect(el.querySelector(".iw-stage canvas")).not.toBeNull();
    expect(el.querySelector<HTMLElement>(".iw-stage")!.style.width).toBe(`${POS * CELL_W}px`);
    expect(el.querySelector(".iw-error:not([hidden])")).toBeNull();
    expect(el.querySelector(".iw-legend")).not.toBeNull();
  });

  it("says what a cell predicts: the next token, or on a masked LM the token at its position", () => {
    const { el } = setup();
    expect(el.querySelector(".iw-hint")!.textContent).toContain("next token predicted");
    document.body.replaceChildren();
    const mlm = setup({ predicts: "same" });
    const hint = mlm.el.querySelector(".iw-hint")!.textContent!;
    expect(hint).toContain("masked-LM head predicts at that position");
    expect(hint).not.toContain("next");
  });

  it("hovering a cell lists its top-k with probabilities", () => {
    const { el } = setup();
    hover(el, 2, 3);
    const tip = el.querySelector<HTMLElement>(".iw-tooltip")!;
    expect(tip.hidden).toBe(false);
    const text = tip.textContent!;
    expect(text).toContain("layer 1 (output)");
    expect(text).toContain("·is");
    expect(text).toContain("·Paris");
    expect(text).toContain("50.0%");
    expect(text).toContain("12.5%");
    expect(tip.querySelectorAll(".iw-tip-topk .iw-tip-token")).toHaveLength(K);
    hover(el, 0, 0);
    expect(tip.textContent).toContain("embeddings");
    expect(tip.textContent).toContain("·the");
    el.querySelector(".iw-stage")!.dispatchEvent(new MouseEvent("mouseleave"));
    expect(tip.hidden).toBe(true);
    // a scroll moves another cell under a still pointer: the tooltip of the old one goes
    hover(el, 2, 3);
    expect(tip.hidden).toBe(false);
    el.querySelector(".iw-lens-scroll")!.dispatchEvent(new Event("scroll"));
    expect(tip.hidden).toBe(true);
  });

  it("token text stays text (XSS-safe), in labels and tooltip", () => {
    const { el } = setup({ tokens: ["The", EVIL, "</script>", " is", " in"] });
    hover(el, 1, 1);
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelector(".iw-tooltip")!.textContent).toContain("<img");
    expect(el.querySelectorAll(".iw-token")[1].textContent).toContain("<img");
    expect(cellLabel(EVIL, 6)).toBe("<img …"); // inner spaces stay spaces
  });

  it("the track input sets track_request; Python's answer switches to track mode", async () => {
    const { el, model, root } = setup();
    const input = el.querySelector<HTMLInputElement>("input.iw-track")!;
    expect(input.disabled).toBe(false);
    input.value = " Paris";
    el.querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true }));
    expect(model.get("track_request")).toBe(" Paris");
    expect(model.saved).toBe(1);
    model.push({ busy: true });
    expect(root.dataset.busy).toBe("true");
    expect(input.disabled).toBe(true);
    expect(el.querySelector<HTMLElement>(".iw-busy")!.hidden).toBe(false);
    model.push({ ...tracked(), mode: "track", busy: false, track_request: "" } as Partial<LogitLensModel>);
    await tick();
    expect(root.dataset.mode).toBe("track");
    expect(el.querySelector(".iw-legend")!.textContent).toContain("p(·Paris)");
    hover(el, 0, 0);
    const tip = el.querySelector<HTMLElement>(".iw-tooltip")!;
    expect(tip.textContent).toContain("rank #101");
    expect(tip.querySelectorAll(".iw-tip-hit").length).toBe(3); // id 20 is in the top-k
    // back to top-1 mode
    el.querySelector<HTMLButtonElement>('.iw-modes button[data-mode="top"]')!.click();
    await tick();
    expect(model.get("mode")).toBe("top");
    expect(root.dataset.mode).toBe("top");
  });

  it("the tracked button is disabled until a token is tracked", () => {
    const { el } = setup();
    expect(el.querySelector<HTMLButtonElement>('.iw-modes button[data-mode="track"]')!.disabled).toBe(true);
  });

  it("shows Python's error inside the view", () => {
    const { el, model } = setup();
    model.push({ error: "ValueError: the target ' Eiffel Tower' is 2 tokens, not one" });
    const box = el.querySelector<HTMLElement>(".iw-error:not([hidden])")!;
    expect(box.textContent).toContain("2 tokens, not one");
    model.push({ error: "" });
    expect(el.querySelector(".iw-error:not([hidden])")).toBeNull();
  });

  it("malformed arrays show an error, not a blank grid", () => {
    const { el } = setup({ tokens: ["only", "two"] });
    expect(el.querySelector(".iw-error:not([hidden])")!.textContent).toContain("2 tokens but 5 positions");
  });

  it("static views disable tracking but keep the mode switch", async () => {
    const { el, model, root } = setup({ interactive: false, ...(tracked() as Partial<LogitLensModel>) });
    const input = el.querySelector<HTMLInputElement>("input.iw-track")!;
    expect(input.disabled).toBe(true);
    expect(input.placeholder).toContain("Python");
    el.querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true }));
    expect(model.get("track_request")).toBe("");
    el.querySelector<HTMLButtonElement>('.iw-modes button[data-mode="track"]')!.click();
    await tick();
    expect(root.dataset.mode).toBe("track");
  });

  it("selected_token syncs both ways and highlights the column", () => {
    const { el, model, root } = setup();
    el.querySelectorAll<HTMLElement>(".iw-token")[2].click();
    expect(model.get("selected_token")).toBe(2);
    expect(el.querySelectorAll(".iw-token")[2].classList.contains("iw-selected")).toBe(true);
    // a cell click selects its position too
    el.querySelector(".iw-stage")!.dispatchEvent(new MouseEvent("click", { clientX: 4 * CELL_W + 3, clientY: 3, bubbles: true }));
    expect(model.get("selected_token")).toBe(4);
    model.push({ selected_token: 1 }); // from Python (iw.linked)
    expect(root.dataset.selected).toBe("1");
    expect(el.querySelectorAll(".iw-token")[1].classList.contains("iw-selected")).toBe(true);
    expect(el.querySelector<HTMLElement>(".iw-col-sel")!.hidden).toBe(false);
    expect(el.querySelector<HTMLElement>(".iw-col-sel")!.style.left).toBe(`${CELL_W}px`);
  });

  it("cleans up every listener", () => {
    const { model, cleanup, el } = setup();
    cleanup();
    expect(model.listenerCount()).toBe(0);
    expect(el.querySelector(".iw-lens")).toBeNull();
  });

  it("formats ranks and probabilities for people", () => {
    expect(rankLabel(0)).toBe("#1");
    expect(rankLabel(187)).toBe("#188");
    expect(rankLabel(123456)).toBe("#123k");
    expect(formatProb(0.553)).toBe("55.3%");
    expect(formatProb(4.3e-7)).toBe("4.3e-7");
    expect(cellLabel(" Paris", 8)).toBe("·Paris");
    expect(cellLabel("\n", 8)).toBe("↵");
  });
});

describe("showToken", () => {
  it("shows code points for tokens that would look blank", async () => {
    const { showToken } = await import("../src/views/logit_lens");
    expect(showToken("\u00a0")).toBe("⍽");
    expect(showToken("\u200b")).toBe("‹U+200B›");
    expect(showToken(" ")).toBe("·");
    expect(showToken(" Paris")).toBe("·Paris");
  });
});


describe("LogitLensView on a long text", () => {
  it("sizes the stage to every column but paints only those in view, and follows the scroll", () => {
    const n = 600; // 38,400 px of columns: one canvas that wide would pass the browser's limit
    const ids = new Int32Array(ROWS * n * K).fill(10);
    const probs = new Float32Array(ROWS * n * K).fill(0.5);
    const { el } = setup({
      tokens: Array.from({ length: n }, (_, i) => ` t${i}`),
      top_ids: payload(ids, [ROWS, n, K]) as LogitLensModel["top_ids"],
      top_probs: payload(probs, [ROWS, n, K]) as LogitLensModel["top_probs"],
    });
    const stage = el.querySelector<HTMLElement>(".iw-stage")!;
    const canvas = stage.querySelector("canvas")!;
    expect(stage.style.width).toBe(`${n * CELL_W}px`);
    expect(canvas.width).toBeLessThan(4000); // a window of columns, not 38,400 px
    expect(canvas.style.left).toBe("0px");
    const scroll = el.querySelector<HTMLElement>(".iw-lens-scroll")!;
    scroll.scrollLeft = 300 * CELL_W;
    scroll.dispatchEvent(new Event("scroll"));
    const left = parseFloat(canvas.style.left);
    expect(left).toBeGreaterThan(250 * CELL_W);
    expect(left).toBeLessThanOrEqual(300 * CELL_W);
    expect(left + canvas.width).toBeGreaterThan(300 * CELL_W);
  });
});
