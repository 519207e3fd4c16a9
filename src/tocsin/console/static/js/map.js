// The map page (/console/map): every open incident with a location and every known site,
// kept live. Markers follow live.js batches (one per animation frame); the list beside the
// map, the keyboard and screen-reader way to the same incidents, is re-sorted at most once
// a second, and the sites' open counts are re-read at most every 15 s.
import { api, config, h, mount, priorityBadge, showError, stateBadge } from "./api.js";
import { live } from "./live.js";
import { createMap, MAP_KEYS } from "./mapview.js";
import { OPEN, compare, fetchOpenIncidents } from "./queue_model.js";

const LIST_PAGE = 1000;
const LIST_EVERY_MS = 1000;
const SITES_EVERY_MS = 15000;

const located = new Map(); // id -> incident (open, with a location)
const unlocated = new Set(); // ids of open incidents without one
let listLimit = LIST_PAGE;
let listTimer = 0;
let sitesTimer = 0;
let lastSites = 0;
let loading = null;
let loadAgain = false;
let fetching = false;
let pending = []; // live changes that arrived while the incidents were being fetched

const note = h("p", { id: "map-mode-note", class: "small map-note", role: "status" }, "Loading the map…");
const mapBox = h("div", { id: "map", role: "region", "aria-label": "Map of open incidents and sites" });
const list = h("ol", { id: "map-list", class: "map-list", tabindex: -1, "aria-labelledby": "map-list-title" });
const count = h("span", { class: "muted" });
const unlocatedNote = h("p", { class: "small muted", id: "map-unlocated" });
const more = h("button", { type: "button", class: "btn-quiet map-more", hidden: true, onclick: () => {
  listLimit += LIST_PAGE;
  renderList();
} });

const view = createMap(mapBox, { onStatus: showMode });

function showMode({ mode, reason }) {
  const text = mode === "tiles"
    ? `Map tiles from ${new URL(config.map.tiles.replace("{s}.", "").replace("{s}", "a"), location.href).host}`
    : "Offline coordinate canvas — no tile source configured";
  note.textContent = reason && !(mode === "canvas" && reason === "no tile source configured")
    ? `${mode === "canvas" ? "Offline coordinate canvas" : text} — ${reason}`
    : text;
  note.dataset.mode = mode;
}

function legend() {
  const item = (cls, text) => h("li", {}, h("span", { class: `map-key ${cls}`, "aria-hidden": "true" }), text);
  return h("ul", { id: "map-legend", class: "map-legend", "aria-label": "Legend" },
    item("map-key-p1", "P1"), item("map-key-p2", "P2"), item("map-key-p3", "P3"), item("map-key-p4", "P4"),
    item("map-key-new", "new"), item("map-key-ack", "acknowledged"), item("map-key-disp", "dispatched"),
    item("map-key-site", "site"));
}

function labelOf(incident) {
  const what = incident.title || incident.alarm_type;
  const where = incident.site && !what.includes(incident.site) ? ` · ${incident.site}` : "";
  return `${incident.exercise ? "EXERCISE · " : ""}${what}${where}`;
}

// Intl formatters are costly to create: made once, used for thousands of rows.
const TIME = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "medium", hour12: false });

function shortTime(ms) {
  const at = new Date(ms);
  const now = new Date();
  const today = at.getDate() === now.getDate() && at.getMonth() === now.getMonth() && at.getFullYear() === now.getFullYear();
  return today ? TIME.format(at) : DATE_TIME.format(at);
}

function marker(incident) {
  return {
    id: incident.id, lat: incident.location.lat, lon: incident.location.lon,
    priority: incident.priority, handling: incident.handling, label: labelOf(incident),
  };
}

// -- the list: the same incidents as links ---------------------------------------------------

const rows = new Map(); // id -> {li, link, meta, sig}

// A row is built once per incident and updated in place, so a focused link stays focused.
function row(incident) {
  const sig = `${incident.priority}|${incident.handling}|${incident.condition}|${labelOf(incident)}`;
  let cached = rows.get(incident.id);
  if (cached && cached.sig === sig) return cached.li;
  if (!cached) {
    const link = h("a", { href: `/console/incidents/${incident.id}` });
    const meta = h("div", { class: "map-item-meta small muted" });
    cached = { li: h("li", { dataset: { incidentId: incident.id } }, link, meta), link, meta };
    rows.set(incident.id, cached);
  }
  cached.sig = sig;
  cached.link.replaceChildren(priorityBadge(incident.priority), " ", h("span", { class: "map-item-title" }, labelOf(incident)));
  cached.meta.replaceChildren(
    stateBadge(incident.handling), " ",
    ...(incident.condition === "cleared" ? [h("span", { class: "tag tag-cleared" }, "cleared"), " "] : []),
    h("time", { datetime: incident.first_event_at }, shortTime(incident._t)));
  return cached.li;
}

function renderList() {
  listTimer = 0;
  const sorted = [...located.values()].sort(compare);
  const shown = sorted.slice(0, listLimit);
  const wanted = shown.map(row);
  const keep = new Set(wanted);
  const hadFocus = list.contains(document.activeElement);
  // drop what left, then move only what moved: the row a keyboard user is on stays put
  for (const li of [...list.children]) if (!keep.has(li)) li.remove();
  wanted.forEach((li, i) => {
    const here = list.children[i];
    if (here !== li) list.insertBefore(li, here || null);
  });
  for (const id of rows.keys()) if (!located.has(id)) rows.delete(id);
  if (hadFocus && !list.contains(document.activeElement)) list.focus();
  count.textContent = `(${located.size})`;
  mapBox.dataset.markers = String(located.size);
  unlocatedNote.textContent = unlocated.size
    ? `${unlocated.size} open incident${unlocated.size === 1 ? "" : "s"} without a location ${unlocated.size === 1 ? "is" : "are"} not on the map: see the queue.`
    : "";
  more.hidden = sorted.length <= shown.length;
  more.textContent = `Show ${Math.min(LIST_PAGE, sorted.length - shown.length)} more of ${sorted.length - shown.length}`;
  if (!located.size) list.replaceChildren(h("li", { class: "muted map-empty" }, "No open incident has a location."));
}

function scheduleList() {
  if (!listTimer) listTimer = setTimeout(renderList, LIST_EVERY_MS);
}

list.addEventListener("mouseover", (event) => {
  const li = event.target.closest?.("li[data-incident-id]");
  if (li) view.highlight(Number(li.dataset.incidentId));
});
list.addEventListener("mouseleave", () => view.highlight(null));
list.addEventListener("focusin", (event) => {
  const li = event.target.closest?.("li[data-incident-id]");
  if (li) view.highlight(Number(li.dataset.incidentId), { pan: true });
});
list.addEventListener("focusout", () => view.highlight(null));

// -- data ------------------------------------------------------------------------------------

function track(incident) {
  located.delete(incident.id);
  unlocated.delete(incident.id);
  if (!OPEN.has(incident.handling)) return false;
  incident._t = Date.parse(incident.first_event_at); // sort key (queue order), parsed once
  if (incident.location) located.set(incident.id, incident);
  else unlocated.add(incident.id);
  return Boolean(incident.location);
}

async function loadSites() {
  lastSites = Date.now();
  sitesTimer = 0;
  try {
    view.setSites(await api("/api/v1/sites"));
  } catch (err) {
    showError(err);
  }
}

function scheduleSites() {
  if (sitesTimer) return;
  sitesTimer = setTimeout(loadSites, Math.max(0, lastSites + SITES_EVERY_MS - Date.now()));
}

async function loadAll() {
  let fresh;
  fetching = true;
  try {
    fresh = await fetchOpenIncidents();
  } catch (err) {
    pending = []; // the next full load brings them
    throw err;
  } finally {
    fetching = false;
  }
  located.clear();
  unlocated.clear();
  for (const incident of fresh) track(incident);
  view.setIncidents([...located.values()].map(marker));
  const missed = pending;
  pending = [];
  apply(missed);
  renderList();
}

// One full (re)load at a time; a reset during a load asks for one more afterwards.
function reload() {
  if (loading) {
    loadAgain = true;
    return loading;
  }
  loading = Promise.all([loadAll(), loadSites()])
    .catch((err) => {
      showError(err);
      note.textContent = `Could not load the incidents: ${err.message}`;
    })
    .finally(() => {
      loading = null;
      if (loadAgain) {
        loadAgain = false;
        reload();
      }
    });
  return loading;
}

function apply(batch) {
  const upserts = [];
  const removed = [];
  for (const { incident } of batch) {
    const known = located.get(incident.id);
    if (known && Date.parse(known.updated_at) > Date.parse(incident.updated_at)) continue; // older than what we hold
    if (track(incident)) upserts.push(marker(incident));
    else removed.push(incident.id);
  }
  if (upserts.length || removed.length) view.update(upserts, removed);
  scheduleList();
  scheduleSites();
}

function onChanges(batch) {
  if (fetching) pending.push(...batch);
  else apply(batch);
}

async function start() {
  mount(h("div", { class: "map-page" },
    h("div", { class: "map-head" },
      h("h1", {}, "Map"),
      note,
      legend(),
      h("button", { type: "button", class: "btn-quiet", id: "map-fit", onclick: () => view.fit() }, "Fit all")),
    h("div", { class: "map-layout" },
      mapBox,
      h("aside", { class: "map-side", "aria-labelledby": "map-list-title" },
        h("h2", { id: "map-list-title" }, "Open incidents on the map ", count),
        h("p", { class: "small muted map-help" }, `On the map: ${MAP_KEYS} Click a marker to open it.`),
        unlocatedNote,
        list,
        more))));
  live({ onChanges, onReset: reload });
  await Promise.all([view.ready, reload()]);
  if (!config.map?.center) view.fit();
  document.getElementById("app").dataset.ready = "true";
}

start().catch(showError);
