import { describe, expect, it } from "vitest";
import { displayToken, renderTokens } from "../src/lib/tokens";

describe("token display", () => {
  it("shows whitespace visibly", () => {
    expect(displayToken(" Paris")).toBe("·Paris");
    expect(displayToken("end  ")).toBe("end··");
    expect(displayToken("a b")).toBe("a b");
    expect(displayToken("\n")).toBe("↵");
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
