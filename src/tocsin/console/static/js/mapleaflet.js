// The map over a tile source: Leaflet (served from /console/static/vendor/leaflet, built by
// web/build.sh) over the configured tile source (config.map.tiles), markers as canvas circle
// markers. A renderer behind MapView (mapview.js), with the same methods as CanvasBackend.
import { h } from "./api.js";
import { PRIORITY_RADIUS, colours, drawRing, ensureStyles, makeSprite, siteColour, tipLines } from "./mapmarkers.js";

const VENDOR = "/console/static/vendor/leaflet";

let leafletLoading = null;
export function loadLeaflet() {
  if (window.L?.map) return Promise.resolve(window.L);
  leafletLoading ??= new Promise((resolve, reject) => {
    ensureStyles(`${VENDOR}/leaflet.css`);
    const script = h("script", { src: `${VENDOR}/leaflet.js` });
    const timer = setTimeout(() => reject(new Error("Leaflet took too long to load")), 10000);
    script.addEventListener("load", () => {
      clearTimeout(timer);
      if (window.L?.map) resolve(window.L);
      else reject(new Error("leaflet.js loaded but defined no L"));
    });
    script.addEventListener("error", () => {
      clearTimeout(timer);
      reject(new Error(`${VENDOR}/leaflet.js is missing (run web/build.sh)`));
    });
    document.head.append(script);
  });
  return leafletLoading;
}

export class LeafletBackend {
  constructor(L, view) {
    this.L = L;
    this.view = view;
    this.palette = colours();
    this.markers = new Map();
    this.surface = h("div", { class: "mv-leaflet" });
    view.container.append(this.surface);
    const { center, zoom, tiles, interactive } = view.options;
    const map = (this.map = L.map(this.surface, {
      preferCanvas: true, attributionControl: false, zoomControl: interactive, minZoom: 2, maxZoom: 19,
      scrollWheelZoom: interactive, dragging: true, keyboard: true, worldCopyJump: true,
    }));
    map.setView(center || [20, 0], center ? zoom : 2);
    L.control.scale({ imperial: false }).addTo(map);
    // sites are squares, as on the offline canvas: a circle marker that draws a square
    // (Leaflet 1.9's canvas internals; web/package.json pins the version)
    this.SiteMarker = L.CircleMarker.extend({
      _updatePath() {
        const renderer = this._renderer;
        if (!(renderer instanceof L.Canvas)) return L.CircleMarker.prototype._updatePath.call(this);
        if (!renderer._drawing || this._empty()) return undefined;
        const { x, y } = this._point;
        const r = Math.round(this._radius);
        renderer._ctx.beginPath();
        renderer._ctx.rect(x - r, y - r, 2 * r, 2 * r);
        renderer._fillStroke(renderer._ctx, this);
        return undefined;
      },
    });
    // incidents are blitted sprites (see makeSprite); Leaflet still does their hit-testing
    const sprites = new Map();
    const palette = this.palette;
    this.IncidentMarker = L.CircleMarker.extend({
      _updatePath() {
        const renderer = this._renderer;
        if (!(renderer instanceof L.Canvas)) return L.CircleMarker.prototype._updatePath.call(this);
        if (!renderer._drawing || this._empty()) return undefined;
        const ratio = window.devicePixelRatio || 1;
        const key = `${this.item.priority}|${this.item.handling}|${ratio}`;
        let sprite = sprites.get(key);
        if (!sprite) sprites.set(key, (sprite = makeSprite(this.item, palette, ratio)));
        const { x, y } = this._point;
        const ctx = renderer._ctx;
        ctx.drawImage(sprite.canvas, Math.round(x - sprite.half), Math.round(y - sprite.half), 2 * sprite.half, 2 * sprite.half);
        if (this.marked) drawRing(ctx, x, y, this.item, palette);
        return undefined;
      },
    });
    this.siteRenderer = L.canvas({ padding: 0.2 });
    this.renderer = L.canvas({ padding: 0.2, tolerance: 3 });
    this.siteLayer = L.layerGroup().addTo(map);
    this.layer = L.layerGroup().addTo(map);
    let loaded = 0, failed = 0;
    L.tileLayer(tiles, { maxZoom: 19, subdomains: "abc", crossOrigin: false })
      .on("tileload", () => { loaded += 1; })
      .on("tileerror", () => {
        failed += 1;
        if (failed === 4 && loaded === 0) view.onStatus({ mode: "tiles", reason: "the tile source does not answer (offline?): markers are still shown" });
      })
      .addTo(map);
    view.container.append(h("div", { class: "mv-controls mv-controls-leaflet" },
      h("button", { type: "button", "aria-label": "Fit everything", title: "Fit everything", onclick: () => view.fit() }, "⤢")));
    new ResizeObserver(() => map.invalidateSize({ pan: false })).observe(view.container);
  }

  tip(item) {
    const [first, second] = tipLines(item);
    return h("span", {}, h("strong", {}, first), h("br"), second);
  }

  put(item) {
    const radius = PRIORITY_RADIUS[item.priority] || 5;
    let marker = this.markers.get(item.id);
    if (marker) {
      const moved = marker.item.lat !== item.lat || marker.item.lon !== item.lon;
      marker.item = item;
      if (moved) marker.setLatLng([item.lat, item.lon]);
      if (marker.getRadius() !== radius) marker.setRadius(radius);
      else if (!moved) marker.redraw();
      return;
    }
    marker = new this.IncidentMarker([item.lat, item.lon], { radius, weight: 3, renderer: this.renderer });
    marker.item = item;
    marker.bindTooltip(() => this.tip(marker.item), { direction: "top", offset: [0, -6] });
    if (item.id != null) marker.on("click", () => location.assign(`/console/incidents/${marker.item.id}`));
    this.markers.set(item.id, marker);
    marker.addTo(this.layer);
    // a new marker lands on top; keep the urgent ones above the rest
    if (item.priority === 1) marker.bringToFront();
    else if (item.priority >= 3) marker.bringToBack();
  }

  drop(id) {
    const marker = this.markers.get(id);
    if (!marker) return;
    this.layer.removeLayer(marker);
    this.markers.delete(id);
    if (this.marked === marker) this.marked = null;
  }

  setSites(list) {
    this.siteLayer.clearLayers();
    for (const site of list) {
      const marker = new this.SiteMarker([site.lat, site.lon], {
        renderer: this.siteRenderer, radius: 5, color: siteColour(site, this.palette), weight: 2, fillColor: "#1f2a35", fillOpacity: 0.9,
      });
      marker.bindTooltip(() => this.tip(site), { direction: "top" });
      marker.addTo(this.siteLayer);
    }
  }

  invalidate() {} // Leaflet's canvas renderer redraws what changed, once per frame

  fit(points) {
    if (!points.length) {
      const { center, zoom } = this.view.options;
      this.map.setView(center || [20, 0], center ? zoom : 2);
      return;
    }
    const bounds = this.L.latLngBounds(points.map((p) => [p.lat, p.lon]));
    this.map.fitBounds(bounds, { padding: [30, 30], maxZoom: 16, animate: false });
  }

  highlight(item, pan) {
    if (this.marked) {
      this.marked.closeTooltip();
      this.marked.marked = false;
      this.marked.redraw();
    }
    this.marked = item ? this.markers.get(item.id) || null : null;
    if (!this.marked) return;
    this.marked.marked = true;
    this.marked.redraw();
    this.marked.openTooltip();
    if (pan && !this.map.getBounds().contains(this.marked.getLatLng())) this.map.panTo(this.marked.getLatLng());
  }
}
