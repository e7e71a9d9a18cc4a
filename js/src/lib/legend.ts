/** Colour legend: a gradient bar with min (and 0 for diverging scales) and max labels. */
import type { ColorScale } from "./scale";
import { formatShort } from "./format";

export function renderLegend(scale: ColorScale, label = ""): HTMLDivElement {
  const el = document.createElement("div");
  el.className = "iw-legend";
  el.dataset.kind = scale.kind;
  if (label) {
    const l = document.createElement("span");
    l.className = "iw-legend-label";
    l.textContent = label;
    el.appendChild(l);
  }
  const lo = document.createElement("span");
  lo.className = "iw-legend-min";
  lo.textContent = formatShort(scale.lo);
  const bar = document.createElement("span");
  bar.className = "iw-legend-bar";
  bar.style.background = `linear-gradient(to right, ${scale.stops(15).join(", ")})`;
  bar.title = scale.kind === "diverging" ? "diverging scale, centred on 0" : "sequential scale";
  const hi = document.createElement("span");
  hi.className = "iw-legend-max";
  hi.textContent = formatShort(scale.hi);
  el.append(lo, bar, hi);
  return el;
}
