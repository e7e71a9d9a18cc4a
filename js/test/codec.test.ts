import { describe, expect, it } from "vitest";
import { asMatrix, base64ToBytes, decodeArray, decodeFinite, firstNonFinite } from "../src/lib/codec";
import { f32 } from "./fake_model";

describe("decodeArray", () => {
  const vals = [[0.5, -1.25, 3], [1e-3, 0, -7]];

  it.each(["dataview", "arraybuffer", "base64"] as const)("reads float32 from %s", (kind) => {
    const arr = decodeArray(f32(vals, kind))!;
    expect(arr.data).toBeInstanceOf(Float32Array);
    expect(arr.shape).toEqual([2, 3]);
    expect(Array.from(arr.data)).toEqual(Array.from(new Float32Array(vals.flat())));
    expect(asMatrix(arr)).toMatchObject({ rows: 2, cols: 3 });
  });

  it("does not copy aligned DataViews", () => {
    const buf = new ArrayBuffer(64);
    const dv = new DataView(buf, 16, 8);
    new Float32Array(buf, 16, 2).set([1, 2]);
    const arr = decodeArray({ view: dv, dtype: "float32", shape: [2] })!;
    expect(arr.data.buffer).toBe(buf);
    expect(Array.from(arr.data)).toEqual([1, 2]);
  });

  it("copies unaligned views correctly", () => {
    const bytes = new Uint8Array(9);
    bytes.set(new Uint8Array(new Float32Array([3.5, -2]).buffer), 1);
    const arr = decodeArray({ view: new DataView(bytes.buffer, 1, 8), dtype: "float32", shape: [2] })!;
    expect(Array.from(arr.data)).toEqual([3.5, -2]);
  });

  it("accepts base64 without padding and JSON lists", () => {
    expect(Array.from(base64ToBytes("AQID"))).toEqual([1, 2, 3]);
    expect(Array.from(base64ToBytes("AQ"))).toEqual([1]);
    const arr = decodeArray({ view: [1, 2, 3], dtype: "float32", shape: [3] })!;
    expect(Array.from(arr.data)).toEqual([1, 2, 3]);
  });

  it("rejects a shape that does not match the bytes", () => {
    expect(() => decodeArray({ ...f32([1, 2, 3]), shape: [1, 4] })).toThrow(/needs 4 values but 3/);
    expect(() => decodeArray({ view: new ArrayBuffer(6), dtype: "float32", shape: [2] })).toThrow(/multiple of 4/);
    expect(() => decodeArray({ view: new ArrayBuffer(4), dtype: "complex", shape: [1] })).toThrow(/dtype/);
  });

  it("passes null through and finds non-finite values", () => {
    expect(decodeArray(null)).toBeNull();
    expect(firstNonFinite([1, 2, 3])).toBeNull();
    expect(firstNonFinite([1, NaN, Infinity])).toEqual({ index: 1, count: 2 });
  });
});

describe("decodeFinite", () => {
  it("returns the values, or null with the problem named", () => {
    const problems: string[] = [];
    expect(Array.from(decodeFinite(f32([1, -2]), "scores", problems)!)).toEqual([1, -2]);
    expect(decodeFinite(null, "scores", problems)).toBeNull();
    expect(problems).toEqual([]);
    expect(decodeFinite(f32([1, NaN, Infinity]), "scores", problems)).toBeNull();
    expect(decodeFinite({ ...f32([1, 2, 3]), shape: [1, 4] }, "edges", problems)).toBeNull();
    expect(problems[0]).toBe("2 non-finite value(s) in scores");
    expect(problems[1]).toMatch(/^edges could not be read: .*needs 4 values but 3/);
  });
});
