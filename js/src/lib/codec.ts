/**
 * Binary array transport: Python sends `{view, dtype, shape}` where `view` is raw
 * little-endian bytes. Jupyter delivers a DataView, some hosts an ArrayBuffer or a typed
 * array, Colab/marimo (and our static export) a base64 string. Decoding never copies when
 * the bytes are aligned.
 */

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array;

export interface ArrayPayload {
  view: DataView | ArrayBuffer | ArrayBufferView | string | number[] | null;
  dtype: string;
  shape: number[];
}

export interface NDArray {
  data: TypedArray;
  shape: number[];
  dtype: string;
}

type Ctor = {
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): TypedArray;
  new (length: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
};

const DTYPES: Record<string, Ctor> = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
};

/** Decode standard base64 (also tolerates the URL-safe alphabet and missing padding). */
export function base64ToBytes(b64: string): Uint8Array {
  // Native decoder where the browser has one (Chromium 140+, Firefox 133+, Safari 18.2+):
  // several times faster than atob on the megabytes of an exported attention view.
  const native = (Uint8Array as unknown as { fromBase64?: (s: string) => Uint8Array }).fromBase64;
  if (native) {
    try {
      return native(b64);
    } catch {
      /* URL-safe alphabet or odd input: the tolerant path below */
    }
  }
  const clean = b64.replace(/[\s]/g, "").replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(clean + "===".slice((clean.length + 3) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const cache = new WeakMap<object, { src: unknown; arr: NDArray }>();

/**
 * Decode a payload into a typed array view plus shape. Throws an Error with a readable
 * message when the payload is malformed (the caller shows it in the error box).
 */
export function decodeArray(payload: ArrayPayload | null | undefined): NDArray | null {
  if (payload == null) return null;
  if (typeof payload !== "object") throw new Error(`expected an array payload, got ${typeof payload}`);
  const hit = cache.get(payload);
  if (hit && hit.src === payload.view) return hit.arr;

  const dtype = payload.dtype ?? "float32";
  const Ctor = DTYPES[dtype];
  if (!Ctor) throw new Error(`unsupported dtype ${JSON.stringify(dtype)}`);
  const bpe = Ctor.BYTES_PER_ELEMENT;
  const v = payload.view;

  let data: TypedArray;
  if (v == null) {
    throw new Error("array payload has no data");
  } else if (typeof v === "string") {
    const bytes = base64ToBytes(v);
    data = toTyped(Ctor, bytes.buffer, bytes.byteOffset, bytes.byteLength, bpe);
  } else if (Array.isArray(v)) {
    data = new Ctor(v.length);
    for (let i = 0; i < v.length; i++) data[i] = v[i];
  } else if (v instanceof ArrayBuffer) {
    data = toTyped(Ctor, v, 0, v.byteLength, bpe);
  } else if (ArrayBuffer.isView(v)) {
    data = toTyped(Ctor, v.buffer as ArrayBuffer, v.byteOffset, v.byteLength, bpe);
  } else {
    throw new Error("array payload view is neither bytes, base64 nor a list");
  }

  const shape = Array.isArray(payload.shape) ? payload.shape.map(Number) : [data.length];
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== data.length) {
    throw new Error(`array shape [${shape.join(", ")}] needs ${size} values but ${data.length} were sent`);
  }
  const arr: NDArray = { data, shape, dtype };
  cache.set(payload, { src: v, arr });
  return arr;
}

function toTyped(Ctor: Ctor, buf: ArrayBufferLike, offset: number, byteLength: number, bpe: number): TypedArray {
  if (byteLength % bpe !== 0) {
    throw new Error(`byte length ${byteLength} is not a multiple of ${bpe}`);
  }
  if (offset % bpe === 0) return new Ctor(buf, offset, byteLength / bpe); // zero copy
  // Unaligned (can happen with buffers sliced out of a message): copy once.
  const copy = new Uint8Array(byteLength);
  copy.set(new Uint8Array(buf, offset, byteLength));
  return new Ctor(copy.buffer, 0, byteLength / bpe);
}

/** `[rows, n]` view of a decoded array (1-D becomes one row). */
export function asMatrix(arr: NDArray): { rows: number; cols: number; data: TypedArray } {
  if (arr.shape.length === 1) return { rows: 1, cols: arr.shape[0], data: arr.data };
  if (arr.shape.length === 2) return { rows: arr.shape[0], cols: arr.shape[1], data: arr.data };
  throw new Error(`expected a 1-D or 2-D array, got shape [${arr.shape.join(", ")}]`);
}

/** Index and count of non-finite entries (NaN, ±inf), or null when all are finite. */
export function firstNonFinite(data: ArrayLike<number>): { index: number; count: number } | null {
  let first = -1;
  let count = 0;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      if (first < 0) first = i;
      count++;
    }
  }
  return first < 0 ? null : { index: first, count };
}

/** Decode a payload's values for drawing: null for a missing payload, and null with the
 * problem pushed onto `problems` (naming `what`) for an unreadable or non-finite one. */
export function decodeFinite(
  payload: ArrayPayload | null | undefined,
  what: string,
  problems: string[],
): ArrayLike<number> | null {
  try {
    const arr = decodeArray(payload);
    if (!arr) return null;
    const bad = firstNonFinite(arr.data);
    if (bad) {
      problems.push(`${bad.count} non-finite value(s) in ${what}`);
      return null;
    }
    return arr.data;
  } catch (e) {
    problems.push(`${what} could not be read: ${(e as Error).message}`);
    return null;
  }
}
