/** Numbers as people read them: 4 significant digits, no trailing zeros. */
export function format4(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  return String(Number(v.toPrecision(4)));
}

/** Shorter form for legends and headers (3 significant digits). */
export function formatShort(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}
