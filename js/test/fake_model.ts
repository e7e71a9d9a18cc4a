/** A minimal in-memory stand-in for anywidget's AnyModel (get/set/on/off/save_changes). */
import type { AnyModel } from "@anywidget/types";

export interface FakeModel<T extends object> extends AnyModel<T> {
  saved: number;
  listenerCount(): number;
  /** Set from "Python": fires change events like a kernel message would. */
  push(patch: Partial<T>): void;
}

export function fakeModel<T extends object>(init: T): FakeModel<T> {
  const state: Record<string, unknown> = { ...(init as Record<string, unknown>) };
  const listeners = new Map<string, Set<(...a: unknown[]) => void>>();
  const m = {
    saved: 0,
    get: (k: string) => state[k],
    set: (k: string, v: unknown) => {
      state[k] = v;
      listeners.get(`change:${k}`)?.forEach((fn) => fn());
    },
    on: (ev: string, fn: (...a: unknown[]) => void) => {
      if (!listeners.has(ev)) listeners.set(ev, new Set());
      listeners.get(ev)!.add(fn);
    },
    off: (ev?: string | null, fn?: ((...a: unknown[]) => void) | null) => {
      if (!ev) listeners.clear();
      else if (!fn) listeners.delete(ev);
      else listeners.get(ev)?.delete(fn);
    },
    save_changes() {
      m.saved++;
    },
    send: () => {},
    widget_manager: { get_model: () => Promise.reject(new Error("none")) },
    listenerCount: () => [...listeners.values()].reduce((n, s) => n + s.size, 0),
    push(patch: Record<string, unknown>) {
      Object.assign(state, patch);
      for (const k of Object.keys(patch)) listeners.get(`change:${k}`)?.forEach((fn) => fn());
    },
  };
  return m as unknown as FakeModel<T>;
}

/** float32 payload as Python's array_to_json sends it (a DataView over the bytes). */
export function f32(values: number[] | number[][], as: "dataview" | "arraybuffer" | "base64" = "dataview") {
  const rows = Array.isArray(values[0]) ? (values as number[][]) : [values as number[]];
  const flat = new Float32Array(rows.flat());
  const shape = [rows.length, rows[0].length];
  if (as === "arraybuffer") return { view: flat.buffer, dtype: "float32", shape };
  if (as === "base64") {
    const bytes = new Uint8Array(flat.buffer);
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    return { view: btoa(s), dtype: "float32", shape };
  }
  return { view: new DataView(flat.buffer), dtype: "float32", shape };
}

export const tick = () => new Promise<void>((r) => setTimeout(r, 0));
