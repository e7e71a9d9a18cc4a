/**
 * Colour scales. Perceptual, colour-blind-safe schemes from d3-scale-chromatic: RdBu
 * (diverging, symmetric around 0: negative red, positive blue) for signed values, viridis
 * (sequential) for unsigned ones. Every colour fades toward the *background* colour as the
 * magnitude goes to 0, so a 0 looks like the page in light and dark themes alike.
 */
import { scaleDiverging, scaleSequential } from "d3-scale";
import { interpolateRdBu, interpolateViridis } from "d3-scale-chromatic";
import { interpolateLab } from "d3-interpolate";
import { rgb } from "d3-color";

export type ScaleKind = "diverging" | "sequential";
export type ScaleOption = "auto" | ScaleKind;

export interface ColorScale {
  kind: ScaleKind;
  lo: number;
  hi: number;
  /** Background colour of a value. */
  color(v: number): string;
  /** Readable text colour on top of `color(v)`. */
  text(v: number): string;
  /** Colour stops (left to right) for a legend gradient. */
  stops(n?: number): string[];
  /** Bin (0..bins-1) of a value: views colour tokens by class `iw-c<bin>`, not inline styles. */
  bin(v: number): number;
  bins: number;
  /** CSS rules `<prefix> .iw-c<bin> { background; color }` for every bin. */
  css(prefix: string): string;
}

const LUT_SIZE = 257; // odd, so that the centre of a diverging scale is exactly 0

/** Pick diverging when asked, or on "auto" when any value is negative. */
export function chooseKind(option: string | undefined, data: ArrayLike<number>, range?: number[] | null): ScaleKind {
  if (option === "diverging" || option === "sequential") return option;
  // A given range decides: values outside it are clamped, so a negative value under a range
  // from 0 is drawn as 0, not a reason to centre a red-blue scale on the range's middle.
  if (range && range.length === 2 && Number.isFinite(range[0]) && Number.isFinite(range[1])) {
    return range[0] < 0 ? "diverging" : "sequential";
  }
  for (let i = 0; i < data.length; i++) if (data[i] < 0) return "diverging";
  return "sequential";
}

/** The value domain: the given range, else symmetric max |v| (diverging) or [min, max]. */
export function domainOf(kind: ScaleKind, data: ArrayLike<number>, range?: number[] | null): [number, number] {
  if (range && range.length === 2 && Number.isFinite(range[0]) && Number.isFinite(range[1]) && range[1] > range[0]) {
    return [range[0], range[1]];
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return kind === "diverging" ? [-1, 1] : [0, 1];
  if (kind === "diverging") {
    const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
    return [-m, m];
  }
  // Sequential for unsigned values starts at 0 so that "nothing" looks like the page.
  if (lo >= 0) lo = 0;
  if (hi <= lo) hi = lo + 1;
  return [lo, hi];
}

function luminance(c: string): number {
  const { r, g, b } = rgb(c);
  const f = (x: number) => {
    const s = x / 255;
    return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
}

/** True when a CSS colour is dark (relative luminance below 0.2). */
export function isDarkColor(c: string): boolean {
  const col = rgb(c);
  if (!col || Number.isNaN(col.r)) return false;
  return luminance(c) < 0.2;
}

export interface ScaleOptions {
  kind: ScaleKind;
  domain: [number, number];
  background: string;
  foreground: string;
  dark: boolean;
}

export function makeScale(opts: ScaleOptions): ColorScale {
  const { kind, domain, background, foreground, dark } = opts;
  const [lo, hi] = domain;
  const bg = rgb(background).toString();
  const lut: string[] = new Array(LUT_SIZE);
  const txt: string[] = new Array(LUT_SIZE);
  const bgLum = luminance(bg);
  for (let i = 0; i < LUT_SIZE; i++) {
    const t = i / (LUT_SIZE - 1); // position in [0, 1] along the domain
    let target: string;
    let weight: number;
    if (kind === "diverging") {
      const a = Math.abs(2 * t - 1); // magnitude in [0, 1]
      const side = t < 0.5 ? -1 : 1;
      // Light: walk the scheme from its pale centre to its darkest ends. Dark: fade from the
      // background toward a bright, saturated colour of the scheme (its pale centre would
      // turn muddy brown/grey when mixed with a dark background).
      target = interpolateRdBu(0.5 + side * (dark ? 0.36 : 0.18 + 0.32 * a));
      weight = Math.pow(a, dark ? 0.75 : 0.85);
    } else {
      // Light background: high = dark purple; dark background: high = bright yellow.
      target = dark ? interpolateViridis(0.15 + 0.85 * t) : interpolateViridis(1 - (0.1 + 0.9 * t));
      weight = Math.pow(t, 0.85);
    }
    const c = rgb(interpolateLab(bg, target)(weight)).formatHex();
    lut[i] = c;
    const l = luminance(c);
    // Keep the theme's own text colour where the cell is close to the background.
    if (Math.abs(l - bgLum) < 0.12) txt[i] = foreground;
    else txt[i] = l > 0.33 ? "#111111" : "#ffffff";
  }
  const pos =
    kind === "diverging"
      ? scaleDiverging<number>((t) => t).domain([lo, lo < 0 && hi > 0 ? 0 : (lo + hi) / 2, hi]).clamp(true)
      : scaleSequential<number>((t) => t).domain([lo, hi]).clamp(true);
  const idx = (v: number) => {
    const p = pos(v);
    return Number.isFinite(p) ? Math.round(p * (LUT_SIZE - 1)) : 0;
  };
  return {
    kind,
    lo,
    hi,
    color: (v) => lut[idx(v)],
    text: (v) => txt[idx(v)],
    bin: idx,
    bins: LUT_SIZE,
    css(prefix) {
      let out = "";
      for (let i = 0; i < LUT_SIZE; i++) out += `${prefix} .iw-c${i}{background-color:${lut[i]};color:${txt[i]}}\n`;
      return out;
    },
    stops(n = 11) {
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push(lut[Math.round((i / (n - 1)) * (LUT_SIZE - 1))]);
      return out;
    },
  };
}
