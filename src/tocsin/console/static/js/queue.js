// The live queue (/console/): every open incident, most urgent first, kept current from
// the live stream without a reload. A new priority-1 incident sounds a two-tone alert and
// stays in a banner until it is acknowledged or dismissed.
//
// Loading: the live stream is opened first and its changes are held back while the pages
// of `order=queue` are fetched, then applied, so nothing changes unseen between the two.

import { api, config, h, mount, showError, toast } from "./api.js";
import { GO, gPrefix, typing } from "./keys.js";
import { live } from "./live.js";
import { P1Banner } from "./queue_alert.js";
import { QueueModel, fetchOpenIncidents } from "./queue_model.js";
import { QueueTable } from "./queue_view.js";
import { muteButton, toggleMute } from "./sound.js";

const FILTERS = ["site", "type", "priority", "state"];
const canAct = Boolean(config.can?.act);

const model = new QueueModel();
let loading = true;
let held = [];
let loadedOnce = false;

const open = (id) => location.assign(`/console/incidents/${id}`);
const table = new QueueTable({ model, onOpen: open, onAcknowledge: acknowledge });
const banner = new P1Banner({ onOpen: open, onAcknowledge: acknowledge, onShowAll: showNewP1 });

// ---- counts ----
const countNode = (id, label, cls) => {
  const strong = h("strong", { id });
  return [strong, h("span", { class: `count ${cls}` }, strong, label)];
};
const [cNew, boxNew] = countNode("count-new", "new", "count-new");
const [cAck, boxAck] = countNode("count-acknowledged", "acknowledged", "count-ack");
const [cDis, boxDis] = countNode("count-dispatched", "dispatched", "count-dis");
const [cTotal, boxTotal] = countNode("count-total", "open", "count-total");
const cP1 = h("strong", { id: "count-p1" });
const boxP1 = h("span", { class: "count count-p1" }, cP1, "P1");
const shown = h("span", { id: "queue-shown", class: "muted small" });

function renderCounts() {
  const c = model.counts();
  cNew.textContent = String(c.new);
  cAck.textContent = String(c.acknowledged);
  cDis.textContent = String(c.dispatched);
  cTotal.textContent = String(c.total);
  cP1.textContent = String(c.p1);
  boxP1.classList.toggle("hot", c.p1new > 0);
  boxP1.title = `${c.p1} priority-1 open, ${c.p1new} not yet acknowledged`;
  shown.textContent = model.filtering() ? `showing ${model.view.length} of ${c.total} (filtered)` : "";
}

// ---- filters (kept in the URL so a reload keeps them) ----
const params = new URLSearchParams(location.search);
const siteList = h("datalist", { id: "sites-list" });
const typeList = h("datalist", { id: "types-list" });
const inputs = {
  site: h("input", { id: "filter-site", type: "search", list: "sites-list", placeholder: "any site", autocomplete: "off",
    value: params.get("site") || "" }),
  type: h("input", { id: "filter-type", type: "search", list: "types-list", placeholder: "any type",
    autocomplete: "off", value: params.get("type") || "" }),
  priority: h("select", { id: "filter-priority" },
    ...[["", "any"], ["1", "P1"], ["2", "P2"], ["3", "P3"], ["4", "P4"], ["1,2", "P1–P2"]]
      .map(([v, t]) => h("option", { value: v }, t))),
  state: h("select", { id: "filter-state" },
    ...[["", "any open"], ["new", "new"], ["acknowledged", "acknowledged"], ["dispatched", "dispatched"]]
      .map(([v, t]) => h("option", { value: v }, t))),
};
inputs.priority.value = params.get("priority") || "";
inputs.state.value = params.get("state") || "";

// the incident page's "back to queue" returns to these filters (the server sends no referrer)
function rememberQueueUrl() {
  try { sessionStorage.setItem("tocsin.queue.url", location.pathname + location.search); } catch { /* not kept */ }
}
rememberQueueUrl();

let filterTimer = null;
function applyFilters() {
  const filter = Object.fromEntries(FILTERS.map((k) => [k, inputs[k].value.trim()]));
  const keepId = table.selectedId;
  model.setFilter(filter);
  const q = new URLSearchParams();
  for (const k of FILTERS) if (filter[k]) q.set(k, filter[k]);
  const qs = q.toString();
  history.replaceState(null, "", `${location.pathname}${qs ? `?${qs}` : ""}`);
  rememberQueueUrl();
  table.selectedId = keepId != null && model.indexOf(keepId) >= 0 ? keepId : null;
  table.scroller.scrollTop = 0;
  table.render();
  renderCounts();
}
for (const k of FILTERS) {
  const el = inputs[k];
  el.addEventListener(el.tagName === "SELECT" ? "change" : "input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(applyFilters, el.tagName === "SELECT" ? 0 : 150);
  });
  el.addEventListener("keydown", (event) => {
    if (event.key === "Escape" || (event.key === "Enter" && el.tagName !== "SELECT")) { el.blur(); table.scroller.focus(); }
  });
}
const clearButton = h("button", { type: "button", class: "btn-quiet", id: "filter-clear", onclick: () => {
  for (const k of FILTERS) inputs[k].value = "";
  applyFilters();
} }, "Clear");
model.filter = Object.fromEntries(FILTERS.map((k) => [k, inputs[k].value.trim()]));

function showNewP1() {
  for (const k of FILTERS) inputs[k].value = "";
  inputs.priority.value = "1";
  inputs.state.value = "new";
  applyFilters();
}

function refreshSuggestions() {
  siteList.replaceChildren(...model.suggestions("site").map((v) => h("option", { value: v })));
  typeList.replaceChildren(...model.suggestions("alarm_type").map((v) => h("option", { value: v })));
}

// ---- actions ----
async function acknowledge(id) {
  if (!canAct) return;
  const item = model.byId.get(id);
  if (item && item.handling !== "new") {
    toast(`#${id} is already ${item.handling}: only new incidents can be acknowledged.`, "info");
    return;
  }
  try {
    const res = await api(`/api/v1/incidents/${id}/actions`, { method: "POST", body: { action: "acknowledge" } });
    applyOne(res.incident, "incident.state_changed");
    table.render();
    renderCounts();
    toast(`Acknowledged #${id}: ${res.incident.title || res.incident.alarm_type}`, "ok", 3000);
  } catch (err) {
    showError(err);
  }
}

// ---- live changes ----
function applyOne(incident, kind) {
  const before = model.byId.get(incident.id);
  const result = model.apply(incident);
  if (!result) return;
  if (result === "removed") { banner.update(incident, true); return; }
  banner.update(incident);
  const becameP1 = incident.priority === 1 && incident.handling === "new" && (!before || before.priority !== 1);
  if (becameP1 && (kind === "incident.opened" || before)) {
    banner.announce(incident);
    table.flash(incident.id);
  }
}

function applyBatch(batch) {
  const selIndex = table.selectedIndex();
  const selId = table.selectedId;
  for (const { kind, incident } of batch) applyOne(incident, kind);
  keepSelection(selId, selIndex);
  table.render();
  renderCounts();
}

// The selected incident left the queue: select its neighbour, so j/k carry on from there.
function keepSelection(selId, selIndex) {
  if (selId == null || model.indexOf(selId) >= 0) return;
  const view = model.view;
  table.selectedId = view.length ? view[Math.min(selIndex, view.length - 1)].id : null;
}

async function load() {
  loading = true;
  const firstLoad = !loadedOnce;
  const known = new Set(model.byId.keys());
  try {
    if (firstLoad) {
      // show the most urgent page at once; the rest follows
      await fetchOpenIncidents((items) => {
        model.addLoaded(items);
        model.finishLoad();
        table.render();
        renderCounts();
      });
    } else {
      const items = await fetchOpenIncidents();
      model.clear();
      model.addLoaded(items);
      model.finishLoad();
      // anything that became a new P1 while we were away is announced now
      for (const inc of model.byId.values()) {
        if (!known.has(inc.id) && inc.priority === 1 && inc.handling === "new") banner.announce(inc);
      }
      for (const id of banner.items.keys()) {
        const now = model.byId.get(id);
        if (!now || now.handling !== "new") banner.dismiss(id);
      }
    }
    loadError.textContent = "";
  } catch (err) {
    showError(err);
    loadError.textContent = `Could not load the queue: ${err.message || String(err)}`;
  } finally {
    loading = false;
    loadedOnce = true;
    const pending = held;
    held = [];
    applyBatch(pending);
    refreshSuggestions();
    document.getElementById("app").dataset.ready = "true";
  }
}

// ---- keyboard ----
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
  if (document.querySelector("dialog[open]")) return;
  const key = event.key;
  if (gPrefix(event) && (key === "g" || GO[key])) return; // the shell's g q / g m / g d
  const index = table.selectedIndex();
  if (key === "j" || key === "ArrowDown") {
    event.preventDefault();
    table.select(index < 0 ? 0 : index + 1);
  } else if (key === "k" || key === "ArrowUp") {
    event.preventDefault();
    table.select(index < 0 ? 0 : index - 1);
  } else if (key === "Home" || key === "End") {
    event.preventDefault();
    table.select(key === "Home" ? 0 : model.view.length - 1);
  } else if (key === "Enter") {
    if (event.target instanceof HTMLElement && event.target.closest("a, button")) return;
    if (table.selectedId != null) { event.preventDefault(); open(table.selectedId); }
  } else if (key === "a") {
    if (!canAct) return;
    if (table.selectedId == null) { toast("Select an incident first (j / k).", "info", 3000); return; }
    acknowledge(table.selectedId);
  } else if (key === "m") {
    toggleMute();
  } else if (key === "/") {
    event.preventDefault();
    inputs.site.focus();
    inputs.site.select();
  }
});

// ---- page ----
const loadError = h("p", { class: "error", role: "alert" });
const labelled = (id, text, el) => h("div", { class: "filter" }, h("label", { for: id }, text), el);

mount(h("div", { class: "queue-page" },
  banner.node,
  h("div", { class: "queue-head" },
    h("div", { class: "counts", id: "counts" }, boxNew, boxAck, boxDis, boxTotal, boxP1, shown),
    h("div", { class: "toolbar filters", role: "search", "aria-label": "Filter the queue" },
      labelled("filter-site", "Site", inputs.site),
      labelled("filter-type", "Type", inputs.type),
      labelled("filter-priority", "Priority", inputs.priority),
      labelled("filter-state", "State", inputs.state),
      clearButton, siteList, typeList,
      h("span", { class: "spacer-flex" }),
      muteButton())),
  loadError,
  table.scroller,
  h("p", { class: "queue-keys muted small hide-narrow" },
    "j / k move · Enter open", canAct ? " · a acknowledge" : "", " · / filter · m mute · ? help")));
table.scroller.tabIndex = -1;
renderCounts();

live({
  onChanges(batch) {
    if (loading) { held.push(...batch); return; }
    applyBatch(batch);
  },
  onReset() {
    if (!loading) load();
  },
});
load();
