// Small SVG charts for the dashboards: horizontal bars, time columns, a time area.
// No chart library: a few dozen shapes each, drawn at the container's real width (and again
// when it changes), so text never scales. Every chart carries its own text alternative:
// an aria-label summary on the <svg>, a <title> on each mark (the value on hover), and a
// visually hidden table with all the figures for screen readers.
import { h } from "./api.js";

const NS = "http://www.w3.org/2000/svg";
const drawn = new WeakMap(); // container -> {observer, draw, width}

function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const fmtNumber = (n) => (Number.isInteger(n) ? n.toLocaleString() : n.toLocaleString(undefined, { maximumFractionDigits: 2 }));

/** Round tick values from 0 to at least `max`, about `count` of them (1, 2, 5 × 10^n steps). */
export function ticks(max, count = 4) {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const base = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * base).find((m) => m >= raw);
  const out = [];
  for (let v = 0; v < max + step * 0.999; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function hiddenTable(caption, headers, rows) {
  // wrapped: a table will not shrink to 1px itself, and would stretch the page while hidden
  return h("div", { class: "visually-hidden" }, h("table", {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, ...headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((x, i) => (i ? h("td", {}, x) : h("th", { scope: "row" }, x))))))));
}

// Draw now and whenever the container's width changes.
function render(container, draw) {
  let state = drawn.get(container);
  if (!state) {
    state = { draw, width: 0 };
    state.observer = new ResizeObserver(() => {
      const width = container.clientWidth;
      if (width && Math.abs(width - state.width) > 1) {
        state.width = width;
        state.draw(width);
      }
    });
    state.observer.observe(container);
    drawn.set(container, state);
  }
  state.draw = draw;
  state.width = container.clientWidth;
  draw(Math.max(state.width, 240));
}

function empty(container, title, text) {
  container.replaceChildren(h("p", { class: "chart-empty muted", "aria-label": `${title}: ${text}` }, text));
}

/**
 * Horizontal bars, largest first as given.
 * @param {HTMLElement} container
 * @param {{label: string, value: number, title?: string, cls?: string}[]} rows
 * @param {{title: string, unit?: string}} options
 */
export function barChart(container, rows, { title, unit = "" }) {
  if (!rows.length) return empty(container, title, "no data");
  render(container, (width) => {
    const rowH = 24;
    const longest = Math.max(...rows.map((r) => r.label.length));
    const labelW = Math.min(Math.round(width * 0.42), longest * 7.2 + 10);
    const max = Math.max(...rows.map((r) => r.value));
    const axis = ticks(max, width < 420 ? 3 : 5);
    const top = axis.at(-1) || 1;
    const plotW = width - labelW - 44;
    const height = rows.length * rowH + 22;
    const x = (v) => labelW + (v / top) * plotW;
    const maxChars = Math.floor((labelW - 8) / 7);
    const svg = s("svg", {
      width, height, viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
      "aria-label": `${title}: ${rows.slice(0, 5).map((r) => `${r.label} ${fmtNumber(r.value)}`).join(", ")}${rows.length > 5 ? ", …" : ""}`,
    });
    for (const v of axis) {
      svg.append(
        s("line", { class: "ch-grid", x1: x(v), x2: x(v), y1: 0, y2: rows.length * rowH }),
        s("text", { class: "ch-axis", x: x(v), y: height - 6, "text-anchor": "middle" }, fmtNumber(v)));
    }
    rows.forEach((r, i) => {
      const y = i * rowH;
      const text = r.label.length > maxChars ? `${r.label.slice(0, Math.max(1, maxChars - 1))}…` : r.label;
      svg.append(s("g", { class: "ch-row" },
        s("title", {}, `${r.title || r.label}: ${fmtNumber(r.value)}${unit ? ` ${unit}` : ""}`),
        s("rect", { class: "ch-hit", x: 0, y, width, height: rowH }),
        s("text", { class: "ch-label", x: labelW - 6, y: y + rowH / 2 + 4, "text-anchor": "end" }, text),
        s("rect", { class: `ch-bar ${r.cls || ""}`, x: labelW, y: y + 4, height: rowH - 8, width: Math.max(r.value ? 2 : 0, x(r.value) - labelW) }),
        s("text", { class: "ch-value", x: x(r.value) + 4, y: y + rowH / 2 + 4 }, fmtNumber(r.value))));
    });
    container.replaceChildren(svg, hiddenTable(title, ["", unit || "count"], rows.map((r) => [r.title || r.label, fmtNumber(r.value)])));
  });
}

function timeAxis(points, plotW, { minSpacing }) {
  const spanMs = points.length > 1 ? points[1].at - points[0].at : 3600e3;
  const steps = [1, 2, 3, 6, 12, 24, 48].map((k) => k * spanMs);
  const every = steps.find((st) => (st / spanMs) * (plotW / points.length) >= minSpacing) || steps.at(-1);
  const offset = new Date(points[0].at).getTimezoneOffset() * 60e3;
  return points.map((p, i) => ({ i, p })).filter(({ p }) => Math.round((p.at - offset) % every) === 0);
}

function frame(width, height, max, left) {
  const axis = ticks(max, 4);
  const top = axis.at(-1) || 1;
  const plot = { left, right: width - 8, top: 8, bottom: height - 24 };
  const y = (v) => plot.bottom - (v / top) * (plot.bottom - plot.top);
  const grid = axis.flatMap((v) => [
    s("line", { class: "ch-grid", x1: plot.left, x2: plot.right, y1: y(v), y2: y(v) }),
    s("text", { class: "ch-axis", x: plot.left - 5, y: y(v) + 4, "text-anchor": "end" }, fmtNumber(v)),
  ]);
  return { plot, y, grid };
}

/**
 * Columns over time buckets (e.g. incidents per hour).
 * @param {{at: number, value: number}[]} points  `at` in epoch milliseconds, evenly spaced
 * @param {{title: string, unit?: string, label: (ms: number) => string, long: (ms: number) => string}} options
 */
export function columnChart(container, points, { title, unit = "", label, long }) {
  if (!points.length) return empty(container, title, "no data");
  render(container, (width) => {
    const height = 200;
    const max = Math.max(...points.map((p) => p.value));
    const { plot, y, grid } = frame(width, height, max, 40);
    const slot = (plot.right - plot.left) / points.length;
    const total = points.reduce((sum, p) => sum + p.value, 0);
    const busiest = points.reduce((a, b) => (b.value > a.value ? b : a));
    const svg = s("svg", {
      width, height, viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
      "aria-label": `${title}: ${fmtNumber(total)} ${unit} over ${points.length} buckets; most at ${long(busiest.at)} (${fmtNumber(busiest.value)})`,
    }, grid);
    points.forEach((p, i) => {
      const x = plot.left + i * slot;
      svg.append(s("g", { class: "ch-row" },
        s("title", {}, `${long(p.at)}: ${fmtNumber(p.value)} ${unit}`),
        s("rect", { class: "ch-hit", x, y: plot.top, width: slot, height: plot.bottom - plot.top }),
        s("rect", { class: "ch-bar", x: x + Math.min(2, slot * 0.15), width: Math.max(1, slot - 2 * Math.min(2, slot * 0.15)),
          y: y(p.value), height: Math.max(0, plot.bottom - y(p.value)) })));
    });
    for (const { i, p } of timeAxis(points, plot.right - plot.left, { minSpacing: points.length > 30 ? 70 : 44 })) {
      svg.append(s("text", { class: "ch-axis", x: plot.left + (i + 0.5) * slot, y: height - 6, "text-anchor": "middle" }, label(p.at)));
    }
    svg.append(s("line", { class: "ch-base", x1: plot.left, x2: plot.right, y1: plot.bottom, y2: plot.bottom }));
    container.replaceChildren(svg, hiddenTable(title, ["time", unit || "count"], points.map((p) => [long(p.at), fmtNumber(p.value)])));
  });
}

/**
 * A line with the area under it, over time (e.g. events per second).
 * @param {{at: number, value: number}[]} points  `at` in epoch milliseconds, evenly spaced
 */
export function areaChart(container, points, { title, unit = "", label, long }) {
  if (!points.length) return empty(container, title, "no data");
  render(container, (width) => {
    const height = 170;
    const max = Math.max(...points.map((p) => p.value));
    const { plot, y, grid } = frame(width, height, max, 40);
    const step = (plot.right - plot.left) / Math.max(1, points.length - 1);
    const x = (i) => plot.left + i * step;
    const line = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join("");
    const mean = points.reduce((sum, p) => sum + p.value, 0) / points.length;
    const svg = s("svg", {
      width, height, viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
      "aria-label": `${title}: now ${fmtNumber(points.at(-1).value)} ${unit}, peak ${fmtNumber(max)}, mean ${fmtNumber(Math.round(mean * 100) / 100)}`,
    }, grid,
    s("path", { class: "ch-area", d: `${line}L${x(points.length - 1)},${plot.bottom}L${plot.left},${plot.bottom}Z` }),
    s("path", { class: "ch-line", d: line }));
    points.forEach((p, i) => {
      svg.append(s("g", { class: "ch-row" },
        s("title", {}, `${long(p.at)}: ${fmtNumber(p.value)} ${unit}`),
        s("rect", { class: "ch-hit", x: x(i) - step / 2, y: plot.top, width: step, height: plot.bottom - plot.top }),
        s("circle", { class: "ch-dot", cx: x(i), cy: y(p.value), r: 3 })));
    });
    for (const { i, p } of timeAxis(points, plot.right - plot.left, { minSpacing: 56 })) {
      svg.append(s("text", { class: "ch-axis", x: x(i), y: height - 6, "text-anchor": "middle" }, label(p.at)));
    }
    svg.append(s("line", { class: "ch-base", x1: plot.left, x2: plot.right, y1: plot.bottom, y2: plot.bottom }));
    container.replaceChildren(svg, hiddenTable(title, ["time", unit || "value"], points.map((p) => [long(p.at), fmtNumber(p.value)])));
  });
}
