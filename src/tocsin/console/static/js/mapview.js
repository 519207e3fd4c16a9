// A map of incidents and sites, reusable by any console page (the map page, the incident page).
//
// Two renderers behind one interface:
// - "tiles": Leaflet (served from /console/static/vendor/leaflet, built by web/build.sh) over
//   the configured tile source (config.map.tiles), markers as canvas circle markers.
// - "canvas": our own <canvas> on a Web Mercator grid with a labelled lat/lon graticule and a
//   scale bar. It is the offline default (no tile source configured) and the fallback when
//   Leaflet is missing, so a control room without internet still has a map.
// Both draw thousands of markers on one canvas and redraw at most once per animation frame.
// The map is never the only way to reach an incident: pages list the same incidents as links.
// This module and its renderers own drawing and navigation to an incident; they fetch nothing.
// The renderers live in mapcanvas.js and mapleaflet.js, their shared marker code in mapmarkers.js;
// this module keeps the data, batches live changes and picks the renderer.
import { config, h } from "./api.js";
import { CanvasBackend, MAP_KEYS } from "./mapcanvas.js";
import { LeafletBackend, loadLeaflet } from "./mapleaflet.js";
import { ensureStyles } from "./mapmarkers.js";

const SAME_FIELDS = ["lat", "lon", "priority", "handling", "label"];
const DATA_EVERY_MS = 250;

export { MAP_KEYS };

// Lowest priority first: markers added later are drawn on top, so priority 1 stays visible.
function byPriority(items) {
  return [...items].sort((a, b) => b.priority - a.priority);
}

/** A map in `container`. Methods may be called at once; they apply when the renderer is ready. */
export class MapView {
  constructor(container, { tiles, attribution, center, zoom, interactive = true, onStatus } = {}) {
    this.container = container;
    this.options = { tiles, attribution, center, zoom: zoom ?? 12, interactive };
    this.onStatus = onStatus || (() => {});
    this.incidents = new Map();
    this.sites = [];
    this.outbox = new Map(); // id -> incident, or null to remove: changes not yet drawn
    this.flushTimer = 0;
    this.lastFlush = 0;
    this.backend = null;
    this.mode = null;
    ensureStyles("/console/static/map.css");
    container.classList.add("mv-map");
    container.replaceChildren();
    this.ready = this._start();
  }

  async _start() {
    const { tiles } = this.options;
    let reason = tiles ? "" : "no tile source configured";
    if (tiles) {
      try {
        const L = await loadLeaflet();
        this.backend = new LeafletBackend(L, this);
        this.mode = "tiles";
      } catch (err) {
        reason = `the map library did not load: ${err.message}`;
      }
    }
    if (!this.backend) {
      this.backend = new CanvasBackend(this);
      this.mode = "canvas";
    }
    this.container.dataset.mode = this.mode;
    if (this.options.attribution && this.mode === "tiles") {
      this.container.append(h("div", { class: "mv-attrib small" }, this.options.attribution));
    }
    this.backend.setSites(this.sites);
    this.outbox.clear();
    for (const item of byPriority(this.incidents.values())) this.backend.put(item);
    if (this._wantFit) this.fit();
    this.backend.invalidate();
    this.onStatus({ mode: this.mode, reason });
    return this;
  }

  /** Show exactly these incidents ([{id, lat, lon, priority, label, handling}]); unchanged ones are kept. */
  setIncidents(list) {
    const keep = new Set();
    const changed = [];
    for (const item of list) {
      if (!Number.isFinite(item.lat) || !Number.isFinite(item.lon)) continue;
      keep.add(item.id);
      changed.push(item);
    }
    const gone = [...this.incidents.keys()].filter((id) => !keep.has(id));
    this.update(changed, gone);
  }

  /**
   * Add or move these incidents and remove those ids: the cheap path for live changes.
   * Changes reach the renderer at most every DATA_EVERY_MS, coalesced per incident: redrawing
   * thousands of markers for every animation frame of a 200 events/s stream would leave no
   * time for panning. Panning and zooming themselves redraw at once.
   */
  update(upserts = [], removedIds = []) {
    for (const id of removedIds) {
      if (this.incidents.delete(id)) this.outbox.set(id, null);
    }
    for (const item of upserts) {
      if (!Number.isFinite(item.lat) || !Number.isFinite(item.lon)) {
        if (this.incidents.delete(item.id)) this.outbox.set(item.id, null);
        continue;
      }
      const old = this.incidents.get(item.id);
      if (old && SAME_FIELDS.every((k) => old[k] === item[k])) continue;
      const copy = { ...item };
      this.incidents.set(item.id, copy);
      this.outbox.set(item.id, copy);
    }
    this._scheduleFlush();
  }

  _scheduleFlush() {
    if (!this.backend || this.flushTimer || !this.outbox.size) return;
    const wait = Math.max(0, this.lastFlush + DATA_EVERY_MS - performance.now());
    this.flushTimer = setTimeout(() => requestAnimationFrame(() => this._flush()), wait);
  }

  _flush() {
    this.lastFlush = performance.now();
    this.flushTimer = 0;
    const puts = [];
    for (const [id, item] of this.outbox) {
      if (item) puts.push(item);
      else this.backend.drop(id);
    }
    this.outbox.clear();
    for (const item of byPriority(puts)) this.backend.put(item);
    this.backend.invalidate();
  }

  /** Show these sites ([{site, lat, lon, open, top_priority}]); those without a place are skipped. */
  setSites(list) {
    this.sites = list.filter((s) => Number.isFinite(s.lat) && Number.isFinite(s.lon));
    this.backend?.setSites(this.sites);
  }

  /** Fit the view to everything shown (or the configured centre when there is nothing). */
  fit() {
    if (!this.backend) {
      this._wantFit = true;
      return;
    }
    const points = [...this.incidents.values(), ...this.sites];
    this.backend.fit(points);
  }

  /** Mark one incident (hover or focus in a list); `pan` brings it into view. null clears. */
  highlight(id, { pan = false } = {}) {
    this.backend?.highlight(id == null ? null : this.incidents.get(id) || null, pan);
  }
}

/** The map page's map. Options default to the server's [console] settings. */
export function createMap(container, options = {}) {
  return new MapView(container, { ...(config.map || {}), ...options });
}

/** A small map of one incident's place, for the incident page. */
export function miniMap(container, { lat, lon, label, priority }) {
  container.classList.add("mv-mini");
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) {
    container.replaceChildren(h("p", { class: "muted mv-none" }, "No location reported."));
    return null;
  }
  const view = new MapView(container, { ...(config.map || {}), center: [lat, lon], zoom: Math.max(config.map?.zoom || 15, 15) });
  view.update([{ id: null, lat, lon, priority: priority || 4, label: label || "This incident", handling: "new" }]);
  const where = `${Math.abs(lat).toFixed(5)}° ${lat >= 0 ? "N" : "S"}, ${Math.abs(lon).toFixed(5)}° ${lon >= 0 ? "E" : "W"}`;
  container.append(h("p", { class: "mv-coords" }, h("span", { class: "visually-hidden" }, "Location: "), where));
  view.ready.then(() => view.fit());
  return view;
}
