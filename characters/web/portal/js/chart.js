// A small hand-written SVG bar chart (no library): one bar per day, a few gridlines, labels.

import { h, svg } from "./dom.js";

function niceMax(value) {
  if (value <= 4) return Math.max(1, value);
  const step = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= value) return m * step;
  return 10 * step;
}

/**
 * bars: [{label, short, value}], label for the tooltip, short for the axis.
 * width: the space it gets, in CSS pixels (the SVG scales, so text stays readable only if the
 * viewBox is about as wide as the screen space). Returns a <figure> with the SVG (role=img,
 * described by its caption) and the data as a table.
 */
export function barChart({ bars, caption, valueName, id, width = 720 }) {
  width = Math.max(300, Math.round(width));
  const height = width < 500 ? 200 : 220;
  const pad = { top: 12, right: 8, bottom: 28, left: 36 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const max = niceMax(Math.max(0, ...bars.map((b) => b.value)));
  const ticks = max <= 4 ? Array.from({ length: max + 1 }, (_, i) => i) : [0, max / 2, max];
  const slot = innerW / Math.max(1, bars.length);
  const barW = Math.max(2, Math.min(28, slot * 0.7));
  const every = Math.ceil(bars.length / Math.max(3, Math.floor(width / 72)));
  const y = (v) => pad.top + innerH - (v / max) * innerH;
  const total = bars.reduce((sum, b) => sum + b.value, 0);

  const chart = svg(
    "svg",
    {
      class: "chart",
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-labelledby": `${id}-caption`,
      dataset: { bars: String(bars.length), total: String(total) },
    },
    ticks.map((t) => [
      svg("line", { class: "chart-grid", x1: pad.left, x2: width - pad.right, y1: y(t), y2: y(t) }),
      svg("text", { class: "chart-tick", x: pad.left - 6, y: y(t) + 4, "text-anchor": "end" }, String(Math.round(t * 10) / 10)),
    ]),
    bars.map((b, i) => {
      const x = pad.left + i * slot + (slot - barW) / 2;
      const top = y(b.value);
      return svg(
        "g",
        {},
        svg(
          "rect",
          { class: "chart-bar", x, y: top, width: barW, height: Math.max(0, pad.top + innerH - top), rx: 2 },
          svg("title", {}, `${b.label}: ${b.value} ${valueName}`),
        ),
        i % every === 0
          ? svg("text", { class: "chart-label", x: x + barW / 2, y: height - 8, "text-anchor": "middle" }, b.short)
          : null,
      );
    }),
    svg("line", { class: "chart-axis", x1: pad.left, x2: width - pad.right, y1: pad.top + innerH, y2: pad.top + innerH }),
  );

  const table = h(
    "details",
    { class: "chart-table" },
    h("summary", {}, "Show the numbers"),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "table compact" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Day"), h("th", { scope: "col" }, valueName))),
        h("tbody", {}, bars.map((b) => h("tr", {}, h("th", { scope: "row" }, b.label), h("td", {}, String(b.value))))),
      ),
    ),
  );
  return h("figure", { class: "chart-figure" }, chart, h("figcaption", { id: `${id}-caption` }, caption), table);
}
