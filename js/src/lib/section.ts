/** A titled section of a view: `<div class="iw-section {cls}">` with its title line. */
export function createSection(name: string, cls: string): HTMLDivElement {
  const s = document.createElement("div");
  s.className = `iw-section ${cls}`;
  const h = document.createElement("div");
  h.className = "iw-section-title";
  h.textContent = name;
  s.appendChild(h);
  return s;
}
