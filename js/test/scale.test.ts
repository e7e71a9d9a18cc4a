import { describe, expect, it } from "vitest";
import { rgb } from "d3-color";
import { chooseKind, domainOf, isDarkColor, makeScale } from "../src/lib/scale";
import { format4 } from "../src/lib/format";

describe("colour scales", () => {
  it("auto picks diverging when any value is negative", () => {
    expect(chooseKind("auto", [0.1, 0.2, -0.01])).toBe("diverging");
    expect(chooseKind("auto", [0, 0.2, 3])).toBe("sequential");
    expect(chooseKind("sequential", [-1, 1])).toBe("sequential");
    expect(chooseKind("diverging", [1, 2])).toBe("diverging");
    // a given range decides (values outside are clamped): 0..1 stays sequential even with a
    // stray negative value; a range below 0 is diverging even for positive data
    expect(chooseKind("auto", [0, 0.1, 0.5, 0.9, -0.001], [0, 1])).toBe("sequential");
    expect(chooseKind("auto", [0.2, 0.4], [-1, 1])).toBe("diverging");
    expect(chooseKind("auto", [1, 2], [-1, 1])).toBe("diverging");
  });

  it("diverging domains are symmetric around 0; sequential starts at 0", () => {
    expect(domainOf("diverging", [-0.5, 2])).toEqual([-2, 2]);
    expect(domainOf("sequential", [0.5, 2])).toEqual([0, 2]);
    expect(domainOf("sequential", [3, 3, 3])).toEqual([0, 3]);
    expect(domainOf("diverging", [0, 0])).toEqual([-1, 1]);
    expect(domainOf("diverging", [1, 2], [-5, 5])).toEqual([-5, 5]);
  });

  it("fades toward the background, not white", () => {
    for (const bg of ["#ffffff", "#1e1e1e"]) {
      const dark = isDarkColor(bg);
      const s = makeScale({ kind: "diverging", domain: [-1, 1], background: bg, foreground: "#888", dark });
      expect(rgb(s.color(0)).formatHex()).toBe(rgb(bg).formatHex());
      const neg = rgb(s.color(-1));
      const pos = rgb(s.color(1));
      expect(neg.r).toBeGreaterThan(neg.b); // red side
      expect(pos.b).toBeGreaterThan(pos.r); // blue side
      const q = makeScale({ kind: "sequential", domain: [0, 1], background: bg, foreground: "#888", dark });
      expect(rgb(q.color(0)).formatHex()).toBe(rgb(bg).formatHex());
      expect(rgb(q.color(1)).formatHex()).not.toBe(rgb(bg).formatHex());
    }
    expect(isDarkColor("#1e1e1e")).toBe(true);
    expect(isDarkColor("rgb(255, 255, 255)")).toBe(false);
  });

  it("picks readable text colours and legend stops", () => {
    const s = makeScale({ kind: "diverging", domain: [-1, 1], background: "#fff", foreground: "#222", dark: false });
    expect(s.text(0)).toBe("#222");
    expect(s.text(1)).toBe("#ffffff");
    expect(s.stops(5)).toHaveLength(5);
  });

  it("formats values to 4 significant digits", () => {
    expect(format4(0.123456)).toBe("0.1235");
    expect(format4(-2)).toBe("-2");
    expect(format4(0)).toBe("0");
    expect(format4(123456)).toBe("123500");
  });
});
