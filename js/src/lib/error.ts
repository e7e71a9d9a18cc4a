/** A visible error box (`.iw-error`, role=alert). Text only, via textContent. */
export function createErrorBox(): { el: HTMLDivElement; set(msg: string | null | undefined): void } {
  const el = document.createElement("div");
  el.className = "iw-error";
  el.setAttribute("role", "alert");
  el.hidden = true;
  return {
    el,
    set(msg) {
      const text = (msg ?? "").trim();
      el.textContent = text;
      el.hidden = text === "";
    },
  };
}
