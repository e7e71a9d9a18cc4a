import { describe, expect, it } from "vitest";
import { displayToken, renderTokens } from "../src/lib/tokens";

describe("token display", () => {
  it("shows whitespace visibly", () => {
    expect(displayToken(" Paris")).toBe("·Paris");
    expect(displayToken("end  ")).toBe("end··");
    expect(displayToken("a b")).toBe("a b");
    expect(displayToken("\n")).toBe("↵");
    // characters that draw nothing or reorder the display are made visible
    expect(displayToken("a\u00a0b")).toBe("a⍽b");
    expect(displayToken("\u200b")).toBe("‹U+200B›");
    expect(displayToken("\u202ereversed")).toBe("‹U+202E›reversed");
    expect(displayToken("\ufeff")).toBe("‹U+FEFF›");
    expect(displayToken("👩\u200d💻")).toBe("👩\u200d💻"); // a joiner inside an emoji stays
    expect(displayToken("\u200d")).toBe("‹U+200D›");
    expect(displayToken("\n\n")).toBe("↵↵");
    expect(displayToken("\t x")).toBe("→ x");
    expect(displayToken("   ")).toBe("···");
    expect(displayToken("")).toBe("∅");
  });

  it("inserts token text as text, never markup", () => {
    const evil = '<img src=x onerror="window.__xss=1">';
    const { fragment, spans } = renderTokens([evil, "</script>", "\n", "x"], { values: [1, 2, 3, 4] });
    const div = document.createElement("div");
    div.appendChild(fragment);
    expect(div.querySelector("img")).toBeNull();
    expect(spans[0].textContent).toBe(evil);
    expect(spans[1].textContent).toBe("</script>");
    expect(div.querySelectorAll("br")).toHaveLength(1); // newline token breaks the line
    expect(spans[2].dataset.index).toBe("2");
    expect(spans[3].dataset.value).toBe("4");
    expect((globalThis as Record<string, unknown>).__xss).toBeUndefined();
  });
});

describe("long texts", () => {
  it("split into content-visibility chunks at line breaks, keeping every token", () => {
    const toks: string[] = [];
    for (let i = 0; i < 3000; i++) toks.push(i % 500 === 499 ? "\n" : ` w${i}`);
    const { fragment, spans } = renderTokens(toks, { values: new Float32Array(3000) });
    const div = document.createElement("div");
    div.appendChild(fragment);
    const chunks = div.querySelectorAll(".iw-chunk");
    expect(chunks.length).toBeGreaterThan(1);
    expect(div.querySelectorAll(".iw-token[data-index][data-value]")).toHaveLength(3000);
    expect(spans[2999].dataset.index).toBe("2999");
    // The first chunk ends at the first line break after CHUNK_MIN tokens.
    expect(chunks[0].lastElementChild!.textContent).toBe("↵");
  });

  it("short texts stay in one flow", () => {
    const { fragment } = renderTokens(["a", " b"]);
    const div = document.createElement("div");
    div.appendChild(fragment);
    expect(div.querySelectorAll(".iw-chunk")).toHaveLength(0);
  });
});
