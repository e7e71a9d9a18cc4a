/**
 * TokenHeatmap: tokens coloured by one or several rows of values.
 * Python: interp_widgets/views/token_heatmap.py (same trait names).
 */
import type { RenderProps } from "@anywidget/types";
import { asMatrix, decodeArray, firstNonFinite, type ArrayPayload } from "../lib/codec";
import { coalesce } from "../lib/schedule";
import { renderLegend } from "../lib/legend";
import { chooseKind, domainOf, makeScale } from "../lib/scale";
import { createViewShell } from "../lib/shell";
import { setScaleCss, type ThemeOption } from "../lib/theme";
import { renderTokens, tokenFromEvent } from "../lib/tokens";
import { attachTooltip } from "../lib/tooltip";

export interface HeatmapModel {
  tokens: string[];
  values: ArrayPayload | null;
  row_labels: string[];
  scale: "auto" | "diverging" | "sequential";
  value_range: [number, number] | null;
  title: string;
  theme: ThemeOption;
  selected_token: number;
  /** "all": every row stacked; "one": one row at a time, picked in the header; "auto": one
   * when the rows together pass `PICK_AUTO` tokens. */
  row_mode?: "auto" | "all" | "one";
  selected_row?: number;
  /** "shared": one colour scale for every row (rows compare); "row": each row its own. */
  row_scale?: "shared" | "row";
  error: string;
}

const DATA_TRAITS = ["tokens", "values", "row_labels", "scale", "value_range", "title", "theme", "row_mode", "selected_row",
  "row_scale"] as const;

/** Above this many coloured tokens (rows x tokens), "auto" shows one row at a time: twenty
 * rows of a 2,000-token text stacked are 80,000 px tall, and the same token lies 4,000 px
 * apart from one row to the next. */
export const PICK_AUTO = 6000;

function render({ model, el }: Pick<RenderProps<HeatmapModel>, "model" | "el">): () => void {
  const shell = createViewShell(el, model, "iw-heatmap", "", { progress: false });
  const { root, header, title, dataError } = shell;
  const body = document.createElement("div");
  body.className = "iw-body";
  root.append(body);

  let spansByRow: HTMLSpanElement[][] = [];
  let matrix: { rows: number; cols: number; data: ArrayLike<number> } | null = null;

  const draw = () => {
    const resolved = shell.theme();
    const tokens = model.get("tokens") ?? [];
    const labels = model.get("row_labels") ?? [];
    title.textContent = model.get("title") ?? "";
    header.replaceChildren();
    if (title.textContent) header.appendChild(title);
    body.replaceChildren();
    spansByRow = [];
    matrix = null;

    const problems: string[] = [];
    try {
      const arr = decodeArray(model.get("values"));
      if (arr) matrix = asMatrix(arr);
    } catch (e) {
      problems.push(`values could not be read: ${(e as Error).message}`);
    }
    if (tokens.length === 0) problems.push("no tokens to show");
    if (matrix && matrix.cols !== tokens.length) {
      problems.push(`${tokens.length} tokens but values have ${matrix.cols} columns`);
      matrix = null;
    }
    if (matrix) {
      const bad = firstNonFinite(matrix.data);
      if (bad) {
        const r = Math.floor(bad.index / matrix.cols);
        const c = bad.index % matrix.cols;
        problems.push(`${bad.count} non-finite value(s) (NaN/inf); first at row ${r}, token ${c}`);
        matrix = null;
      }
    }
    if (matrix && labels.length > 0 && labels.length !== matrix.rows) {
      problems.push(`${labels.length} row labels for ${matrix.rows} rows`);
    }
    dataError.set(problems.length ? `Cannot colour this heatmap: ${problems.join("; ")}.` : "");

    const grid = document.createElement("div");
    grid.className = "iw-grid";
    if (!matrix) {
      // Still show the text so that the cell is never blank.
      grid.classList.add("iw-single");
      const line = document.createElement("div");
      line.className = "iw-tokens";
      const { fragment, spans } = renderTokens(tokens);
      line.appendChild(fragment);
      grid.appendChild(line);
      spansByRow = [spans];
      body.appendChild(grid);
      markSelected();
      return;
    }

    const mode = model.get("row_mode") ?? "auto";
    const pick = matrix.rows > 1 && (mode === "one" || (mode === "auto" && matrix.rows * matrix.cols > PICK_AUTO));
    let shownRows = Array.from({ length: matrix.rows }, (_, r) => r);
    if (pick) {
      // one row at a time, picked in the header
      const current = Math.min(Math.max(0, Math.trunc(Number(model.get("selected_row") ?? 0)) || 0), matrix.rows - 1);
      shownRows = [current];
      const label = document.createElement("label");
      label.className = "iw-legend-label";
      const select = document.createElement("select");
      select.className = "iw-row-select";
      for (let r = 0; r < matrix.rows; r++) {
        const o = document.createElement("option");
        o.value = String(r);
        o.textContent = labels[r] ?? `row ${r}`;
        select.appendChild(o);
      }
      select.value = String(current);
      select.addEventListener("change", () => {
        model.set("selected_row", Number(select.value));
        model.save_changes();
      });
      label.append(`row (${matrix.rows}) `, select);
      const own = document.createElement("label");
      own.className = "iw-legend-label";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.className = "iw-row-scale";
      box.checked = model.get("row_scale") === "row";
      box.addEventListener("change", () => {
        model.set("row_scale", box.checked ? "row" : "shared");
        model.save_changes();
      });
      own.append(box, " own scale");
      own.title = "Colour this row on its own range (unchecked: one range for every row, so rows compare)";
      header.append(label, own);
    }
    // the colour scale: over every row, or (one row shown, "own scale") over that row alone
    const cols = matrix.cols;
    const data = pick && model.get("row_scale") === "row"
      ? Array.prototype.slice.call(matrix.data, shownRows[0] * cols, (shownRows[0] + 1) * cols) as number[]
      : matrix.data;
    const range = model.get("value_range");
    const kind = chooseKind(model.get("scale"), data, range);
    const scale = makeScale({
      kind,
      domain: domainOf(kind, data, range),
      background: resolved.background,
      foreground: resolved.foreground,
      dark: resolved.dark,
    });
    header.insertBefore(renderLegend(scale), header.children[title.textContent ? 1 : 0] ?? null);
    setScaleCss(root, scale);
    const showLabels = !pick && (matrix.rows > 1 || labels.length > 0);
    if (!showLabels) grid.classList.add("iw-single");
    for (const r of shownRows) {
      if (showLabels) {
        const lab = document.createElement("div");
        lab.className = "iw-row-label";
        lab.textContent = labels[r] ?? `row ${r}`;
        lab.title = lab.textContent;
        grid.appendChild(lab);
      }
      const line = document.createElement("div");
      line.className = "iw-tokens";
      line.dataset.row = String(r);
      const { fragment, spans } = renderTokens(tokens, {
        values: matrix.data,
        offset: r * matrix.cols,
        bin: scale.bin,
      });
      line.appendChild(fragment);
      grid.appendChild(line);
      spansByRow.push(spans);
    }
    body.appendChild(grid);
    markSelected();
  };

  let selectedSpans: HTMLElement[] = [];
  const markSelected = () => {
    selectedSpans.forEach((s) => s.classList.remove("iw-selected"));
    selectedSpans = [];
    const i = model.get("selected_token");
    if (typeof i !== "number" || i < 0) return;
    for (const row of spansByRow) {
      const s = row[i];
      if (s) {
        s.classList.add("iw-selected");
        selectedSpans.push(s);
      }
    }
  };

  const onClick = (ev: Event) => {
    const span = tokenFromEvent(ev, root);
    if (!span) return;
    const i = Number(span.dataset.index);
    model.set("selected_token", model.get("selected_token") === i ? -1 : i);
    model.save_changes();
  };
  shell.listen(body, "click", onClick);

  shell.cleanup(attachTooltip(root, (span) => {
    const i = Number(span.dataset.index);
    const line = span.closest(".iw-tokens") as HTMLElement | null;
    const r = Number(line?.dataset.row ?? 0);
    const labels = model.get("row_labels") ?? [];
    const rows = matrix?.rows ?? 1;
    return {
      token: String((model.get("tokens") ?? [])[i] ?? ""),
      index: i,
      value: span.dataset.value,
      row: rows > 1 || labels.length ? labels[r] ?? `row ${r}` : undefined,
    };
  }));

  // Several traits often change in one message: redraw once.
  const redraw = coalesce(draw);
  shell.cleanup(redraw.cancel);
  for (const k of DATA_TRAITS) shell.on(`change:${k}`, redraw.schedule);
  shell.on("change:selected_token", markSelected);
  shell.watchTheme(draw);

  draw();
  return shell.dispose;
}

export default { render };
