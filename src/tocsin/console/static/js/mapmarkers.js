// What both map renderers (mapcanvas.js, mapleaflet.js) and the view (mapview.js) share:
// the marker look and its colours, a site's outline, the highlight ring, the tooltip text, and
// loading a stylesheet once.
import { h } from "./api.js";

export const PRIORITY_RADIUS = { 1: 8, 2: 7, 3: 6, 4: 5 };
const FALLBACK_COLOURS = { 1: "#ff5c5c", 2: "#ff9f43", 3: "#ffd84d", 4: "#7fb2e5" };

export function colours() {
  const css = getComputedStyle(document.documentElement);
  const out = {};
  for (const p of [1, 2, 3, 4]) out[p] = css.getPropertyValue(`--p${p}`).trim() || FALLBACK_COLOURS[p];
  out.focus = css.getPropertyValue("--focus").trim() || "#ffd84d";
  return out;
}

// The marker look, shared by both renderers: colour and size by priority, fill by handling
// (new: solid; acknowledged: half; dispatched: a ring), so colour never carries meaning alone.
function markerStyle(item, palette) {
  const colour = palette[item.priority] || palette[4];
  const radius = PRIORITY_RADIUS[item.priority] || 5;
  if (item.handling === "dispatched") return { colour, radius, fill: 0.15, stroke: colour, weight: 3 };
  if (item.handling === "acknowledged") return { colour, radius, fill: 0.55, stroke: colour, weight: 1.5 };
  return { colour, radius, fill: 1, stroke: "#0b1015", weight: 1.5 };
}

// A marker drawn once into a small canvas at device resolution, then blitted wherever it is
// needed: far cheaper than rasterising thousands of anti-aliased circles, above all without a GPU.
export function makeSprite(item, palette, ratio) {
  const style = markerStyle(item, palette);
  const half = Math.ceil(style.radius + style.weight);
  const canvas = h("canvas", { width: 2 * half * ratio, height: 2 * half * ratio });
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.beginPath();
  g.arc(half, half, style.radius, 0, 2 * Math.PI);
  g.globalAlpha = style.fill;
  g.fillStyle = style.colour;
  g.fill();
  g.globalAlpha = 1;
  g.lineWidth = style.weight;
  g.strokeStyle = style.stroke;
  g.stroke();
  return { canvas, half, radius: style.radius };
}

// A site's outline: the colour of its top open priority, grey when nothing is open.
export function siteColour(site, palette) {
  return site.open ? palette[site.top_priority] || palette[4] : "#6f7d8b";
}

// The ring around a highlighted incident (hovered, or focused in the list), centred on x, y.
export function drawRing(ctx, x, y, item, palette) {
  ctx.beginPath();
  ctx.arc(x, y, (PRIORITY_RADIUS[item.priority] || 5) + 5, 0, 2 * Math.PI);
  ctx.lineWidth = 3;
  ctx.strokeStyle = palette.focus;
  ctx.stroke();
}

export function tipLines(item) {
  if (item.site !== undefined) return [item.site, item.open ? `${item.open} open, top P${item.top_priority}` : "nothing open"];
  return [item.label || `Incident ${item.id}`, `P${item.priority}${item.handling ? ` · ${item.handling}` : ""}`];
}

export function ensureStyles(href) {
  if (document.querySelector(`link[href="${href}"]`)) return;
  document.head.append(h("link", { rel: "stylesheet", href }));
}
