/** A progress bar (`.iw-progress`) shown while Python recomputes. */
export function createProgress(): { el: HTMLDivElement; set(busy: boolean, fraction: number): void } {
  const el = document.createElement("div");
  el.className = "iw-progress";
  el.hidden = true;
  el.setAttribute("role", "progressbar");
  el.setAttribute("aria-valuemin", "0");
  el.setAttribute("aria-valuemax", "100");
  const track = document.createElement("div");
  track.className = "iw-progress-track";
  const bar = document.createElement("div");
  bar.className = "iw-progress-bar";
  track.appendChild(bar);
  const label = document.createElement("span");
  el.append(track, label);
  return {
    el,
    set(busy, fraction) {
      el.hidden = !busy;
      const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
      const pct = Math.round(f * 100);
      bar.style.width = `${pct}%`;
      label.textContent = `computing… ${pct}%`;
      el.setAttribute("aria-valuenow", String(pct));
    },
  };
}
