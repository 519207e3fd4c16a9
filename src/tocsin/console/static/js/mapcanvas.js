// The offline map: our own <canvas> on a Web Mercator grid with a labelled lat/lon graticule
// and a scale bar. It is the default when no tile source is configured and the fallback when
// Leaflet is missing, so a control room without internet still has a map. A renderer behind
// MapView (mapview.js), which owns the data and calls put/drop/setSites/fit/highlight/invalidate.
import { h } from "./api.js";
import { colours, drawRing, makeSprite, siteColour, tipLines } from "./mapmarkers.js";

const RAD = Math.PI / 180;
const MAX_LAT = 85.05112878;
const EARTH_M = 40075016.686;

// the keys bindInput handles; the map page repeats them as help (via mapview.js)
export const MAP_KEYS = "Arrow keys pan, + and − zoom, 0 fits everything.";

// Web Mercator, normalised to [0, 1] on both axes (0,0 = north-west corner).
function toUnit(lat, lon) {
  const s = Math.sin(Math.max(-MAX_LAT, Math.min(MAX_LAT, lat)) * RAD);
  return [(lon + 180) / 360, 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)];
}
function fromUnit(u, v) {
  return [Math.atan(Math.sinh(Math.PI * (1 - 2 * v))) / RAD, u * 360 - 180];
}

const GRID_STEPS = [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 45];

export class CanvasBackend {
  constructor(view) {
    this.view = view;
    this.palette = colours();
    this.items = new Map();
    this.sites = [];
    this.u = 0.5;
    this.v = 0.5;
    this.z = 2;
    this.width = 0;
    this.height = 0;
    this.hit = [];
    this.hover = null;
    this.marked = null;
    this.pointers = new Map();
    const { center, zoom } = view.options;
    if (center) {
      [this.u, this.v] = toUnit(center[0], center[1]);
      this.z = zoom;
    }
    this.canvas = h("canvas", {
      class: "mv-canvas", tabindex: 0, role: "img",
      "aria-label": `Map on a plain coordinate grid. ${MAP_KEYS} The incidents are also listed as links.`,
    });
    this.tip = h("div", { class: "mv-tip", role: "tooltip", hidden: true });
    this.controls = h("div", { class: "mv-controls" },
      h("button", { type: "button", "aria-label": "Zoom in", title: "Zoom in", onclick: () => this.zoomBy(1) }, "+"),
      h("button", { type: "button", "aria-label": "Zoom out", title: "Zoom out", onclick: () => this.zoomBy(-1) }, "−"),
      h("button", { type: "button", "aria-label": "Fit everything", title: "Fit everything", onclick: () => view.fit() }, "⤢"));
    view.container.append(this.canvas, this.tip, this.controls);
    new ResizeObserver(() => this.resize()).observe(view.container);
    this.bindInput();
    this.resize();
  }

  put(item) {
    const [u, v] = toUnit(item.lat, item.lon);
    this.items.set(item.id, { item, u, v });
  }
  drop(id) { this.items.delete(id); }
  setSites(list) {
    this.sites = list.map((site) => { const [u, v] = toUnit(site.lat, site.lon); return { item: site, u, v }; });
    this.invalidate();
  }

  invalidate() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.draw(); });
  }

  resize() {
    const rect = this.view.container.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    this.width = Math.max(1, Math.round(rect.width));
    this.height = Math.max(1, Math.round(rect.height));
    this.canvas.width = this.width * ratio;
    this.canvas.height = this.height * ratio;
    if (ratio !== this.ratio) this.sprites = new Map(); // drawn per device pixel
    this.ratio = ratio;
    if (this.pendingFit && rect.width > 0) this.fit(this.pendingFit);
    this.invalidate();
  }

  scale() { return 256 * 2 ** this.z; }
  toScreen(u, v, scale = this.scale()) {
    return [(u - this.u) * scale + this.width / 2, (v - this.v) * scale + this.height / 2];
  }
  zoomAt(x, y, dz) {
    const z = Math.max(1, Math.min(20, this.z + dz));
    const before = this.scale();
    const pu = this.u + (x - this.width / 2) / before;
    const pv = this.v + (y - this.height / 2) / before;
    this.z = z;
    const after = this.scale();
    this.u = pu - (x - this.width / 2) / after;
    this.v = Math.max(0, Math.min(1, pv - (y - this.height / 2) / after));
    this.invalidate();
  }
  zoomBy(dz) { this.zoomAt(this.width / 2, this.height / 2, dz); }
  panBy(dx, dy) {
    const scale = this.scale();
    this.u -= dx / scale;
    this.v = Math.max(0, Math.min(1, this.v - dy / scale));
    this.invalidate();
  }

  fit(points) {
    if (this.width < 2 || this.height < 2) { this.pendingFit = points; return; }
    this.pendingFit = null;
    if (!points.length) {
      const { center, zoom } = this.view.options;
      [this.u, this.v] = center ? toUnit(center[0], center[1]) : [0.5, 0.5];
      this.z = center ? zoom : Math.max(1, Math.log2(this.width / 256));
      this.invalidate();
      return;
    }
    let minU = 1, maxU = 0, minV = 1, maxV = 0;
    for (const p of points) {
      const [u, v] = toUnit(p.lat, p.lon);
      minU = Math.min(minU, u); maxU = Math.max(maxU, u); minV = Math.min(minV, v); maxV = Math.max(maxV, v);
    }
    const pad = 40;
    const zu = Math.log2(Math.max(1, this.width - 2 * pad) / 256 / Math.max(maxU - minU, 1e-9));
    const zv = Math.log2(Math.max(1, this.height - 2 * pad) / 256 / Math.max(maxV - minV, 1e-9));
    this.z = Math.max(1, Math.min(16, zu, zv));
    this.u = (minU + maxU) / 2;
    this.v = (minV + maxV) / 2;
    this.invalidate();
  }

  highlight(item, pan) {
    this.marked = item;
    if (item && pan) {
      const [x, y] = this.toScreen(...toUnit(item.lat, item.lon));
      if (x < 20 || y < 20 || x > this.width - 20 || y > this.height - 20) [this.u, this.v] = toUnit(item.lat, item.lon);
    }
    this.invalidate();
  }

  draw() {
    const ctx = this.canvas.getContext("2d");
    const { width: w, height: ht } = this;
    ctx.setTransform(this.ratio, 0, 0, this.ratio, 0, 0);
    ctx.fillStyle = "#0b1015";
    ctx.fillRect(0, 0, w, ht);
    this.drawGrid(ctx);
    const scale = this.scale();
    const hit = [];
    // sites under incidents: small squares, outlined in their top open priority
    ctx.lineWidth = 2;
    const labelSites = this.z >= 13 && this.sites.length < 300;
    for (const { item, u, v } of this.sites) {
      const [x, y] = this.toScreen(u, v, scale);
      if (x < -10 || y < -10 || x > w + 10 || y > ht + 10) continue;
      ctx.fillStyle = "#1f2a35";
      ctx.strokeStyle = siteColour(item, this.palette);
      ctx.fillRect(x - 5, y - 5, 10, 10);
      ctx.strokeRect(x - 5, y - 5, 10, 10);
      if (labelSites) {
        ctx.fillStyle = "#a9b6c3";
        ctx.font = "11px system-ui, sans-serif";
        ctx.fillText(item.site, x + 8, y + 4);
      }
      hit.push([x, y, 7, item]);
    }
    // incidents as pre-drawn sprites (blitting is far cheaper than rasterising thousands of
    // anti-aliased circles, which matters without a GPU); priority 1 last, so it stays on top
    const layers = [[], [], [], [], []];
    for (const entry of this.items.values()) {
      const [x, y] = this.toScreen(entry.u, entry.v, scale);
      if (x < -12 || y < -12 || x > w + 12 || y > ht + 12) continue;
      const sprite = this.sprite(entry.item);
      layers[Math.min(4, Math.max(1, entry.item.priority || 4))].push(sprite, x, y);
      hit.push([x, y, sprite.radius + 2, entry.item]);
    }
    for (let p = 4; p >= 1; p--) {
      const list = layers[p];
      for (let i = 0; i < list.length; i += 3) {
        const { canvas, half } = list[i];
        ctx.drawImage(canvas, Math.round(list[i + 1] - half), Math.round(list[i + 2] - half), 2 * half, 2 * half);
      }
    }
    for (const item of [this.marked, this.hover]) {
      if (!item || item.site !== undefined || !this.items.has(item.id)) continue;
      const [x, y] = this.toScreen(...toUnit(item.lat, item.lon), scale);
      drawRing(ctx, x, y, item, this.palette);
    }
    this.hit = hit;
    this.drawScale(ctx);
    this.showTip(this.hover || this.marked);
  }

  sprite(item) {
    const key = `${item.priority}|${item.handling}`;
    let sprite = this.sprites.get(key);
    if (!sprite) this.sprites.set(key, (sprite = makeSprite(item, this.palette, this.ratio)));
    return sprite;
  }

  drawGrid(ctx) {
    const { width: w, height: ht } = this;
    const scale = this.scale();
    const [latTop, lonLeft] = fromUnit(this.u - w / 2 / scale, this.v - ht / 2 / scale);
    const [latBottom, lonRight] = fromUnit(this.u + w / 2 / scale, this.v + ht / 2 / scale);
    const perPx = 360 / scale;
    const step = GRID_STEPS.find((s) => s / perPx >= 90) || 45;
    const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    const fmt = (value, pos, neg) => `${Math.abs(value).toFixed(digits)}°${value >= 0 ? pos : neg}`;
    ctx.strokeStyle = "#26323e";
    ctx.lineWidth = 1;
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "top";
    const labels = [];
    ctx.beginPath();
    for (let lon = Math.ceil(lonLeft / step) * step; lon <= lonRight; lon += step) {
      const x = Math.round(this.toScreen(toUnit(0, lon)[0], 0, scale)[0]) + 0.5;
      ctx.moveTo(x, 0); ctx.lineTo(x, ht);
      labels.push([fmt(((lon + 540) % 360) - 180, "E", "W"), x + 3, 3]);
    }
    for (let lat = Math.ceil(Math.max(latBottom, -MAX_LAT) / step) * step; lat <= Math.min(latTop, MAX_LAT); lat += step) {
      const y = Math.round(this.toScreen(0, toUnit(lat, 0)[1], scale)[1]) + 0.5;
      ctx.moveTo(0, y); ctx.lineTo(w, y);
      if (y < ht - 34) labels.push([fmt(lat, "N", "S"), 3, y + 2]); // keep clear of the scale bar
    }
    ctx.stroke();
    ctx.fillStyle = "#8796a5";
    for (const [text, x, y] of labels) ctx.fillText(text, x, y);
    ctx.textBaseline = "alphabetic";
  }

  drawScale(ctx) {
    const lat = fromUnit(this.u, this.v)[0];
    const metresPerPx = (EARTH_M * Math.cos(lat * RAD)) / this.scale();
    const target = metresPerPx * 110;
    const base = 10 ** Math.floor(Math.log10(target));
    const metres = [5, 2, 1].map((m) => m * base).find((m) => m <= target) || base;
    const px = metres / metresPerPx;
    const x = 12, y = this.height - 14;
    ctx.strokeStyle = "#eef2f6";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x, y - 6); ctx.lineTo(x, y); ctx.lineTo(x + px, y); ctx.lineTo(x + px, y - 6);
    ctx.stroke();
    ctx.fillStyle = "#eef2f6";
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillText(metres >= 1000 ? `${metres / 1000} km` : `${metres} m`, x + 4, y - 6);
  }

  findAt(x, y) {
    for (let i = this.hit.length - 1; i >= 0; i--) {
      const [hx, hy, r, item] = this.hit[i];
      if ((hx - x) ** 2 + (hy - y) ** 2 <= r * r) return item;
    }
    return null;
  }

  showTip(item) {
    if (!item || (item.site === undefined && !this.items.has(item.id))) { this.tip.hidden = true; return; }
    const [x, y] = this.toScreen(...toUnit(item.lat, item.lon));
    const [first, second] = tipLines(item);
    this.tip.replaceChildren(h("strong", {}, first), h("br"), second);
    this.tip.hidden = false;
    this.tip.style.left = `${Math.min(Math.max(4, x + 12), Math.max(4, this.width - 240))}px`;
    this.tip.style.top = `${Math.max(4, y - 44)}px`;
  }

  bindInput() {
    const c = this.canvas;
    const local = (e) => { const r = c.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      const [x, y] = local(e);
      this.zoomAt(x, y, -e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0025));
    }, { passive: false });
    c.addEventListener("dblclick", (e) => { const [x, y] = local(e); this.zoomAt(x, y, 1); });
    c.addEventListener("pointerdown", (e) => {
      c.setPointerCapture(e.pointerId);
      this.pointers.set(e.pointerId, local(e));
      this.press = { at: local(e), moved: false };
    });
    c.addEventListener("pointermove", (e) => {
      const now = local(e);
      const before = this.pointers.get(e.pointerId);
      if (!before) {
        const found = this.findAt(...now);
        if (found !== this.hover) { this.hover = found; this.invalidate(); }
        c.style.cursor = found && found.site === undefined ? "pointer" : "grab";
        return;
      }
      if (this.pointers.size === 2) {
        const [a, b] = [...this.pointers.values()];
        const other = a === before ? b : a;
        const d0 = Math.hypot(before[0] - other[0], before[1] - other[1]);
        const d1 = Math.hypot(now[0] - other[0], now[1] - other[1]);
        if (d0 > 0 && d1 > 0) this.zoomAt((now[0] + other[0]) / 2, (now[1] + other[1]) / 2, Math.log2(d1 / d0));
        this.panBy((now[0] - before[0]) / 2, (now[1] - before[1]) / 2);
      } else {
        this.panBy(now[0] - before[0], now[1] - before[1]);
      }
      this.pointers.set(e.pointerId, now);
      if (this.press && Math.hypot(now[0] - this.press.at[0], now[1] - this.press.at[1]) > 4) this.press.moved = true;
    });
    const release = (e) => {
      const at = this.pointers.get(e.pointerId);
      this.pointers.delete(e.pointerId);
      if (e.type !== "pointerup" || !this.press || this.press.moved || this.pointers.size) return;
      const found = at && this.findAt(...at);
      this.press = null;
      if (found && found.site === undefined && found.id != null) location.assign(`/console/incidents/${found.id}`);
      else if (found) { this.hover = found; this.invalidate(); } // touch: show the site's tooltip
    };
    c.addEventListener("pointerup", release);
    c.addEventListener("pointercancel", release);
    c.addEventListener("pointerleave", () => { if (this.hover) { this.hover = null; this.invalidate(); } });
    c.addEventListener("keydown", (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const pan = { ArrowLeft: [80, 0], ArrowRight: [-80, 0], ArrowUp: [0, 80], ArrowDown: [0, -80] }[e.key];
      if (pan) this.panBy(...pan);
      else if (e.key === "+" || e.key === "=") this.zoomBy(1);
      else if (e.key === "-") this.zoomBy(-1);
      else if (e.key === "0") this.view.fit();
      else return;
      e.preventDefault();
    });
  }
}
