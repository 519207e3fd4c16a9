// The dashboards page (/console/dashboard): how much arrives and how fast it is handled, from
// GET /api/v1/stats?hours=N, refreshed every 10 s and, when live changes arrive, at most
// every 5 s. Drills are counted apart, never mixed into the real figures. It also lists the
// vendor codes still waiting for an alarm type; administrators map them here in one step
// (PUT /api/v1/mappings/{code}), through the same protected-category guard as the API.
import { api, config, h, mount, problemText, showError, toast } from "./api.js";
import { areaChart, barChart, columnChart } from "./charts.js";
import { live } from "./live.js";

const WINDOWS = [[6, "6 hours"], [24, "24 hours"], [72, "3 days"], [168, "7 days"]];
const EVERY_MS = 10000;
const AT_MOST_MS = 5000;
const UNCLASSIFIED = "unclassified";

const params = new URLSearchParams(location.search);
let hours = WINDOWS.some(([n]) => n === Number(params.get("hours"))) ? Number(params.get("hours")) : 24;
let typeNames = new Map(); // alarm-type key -> name
let alarmTypes = [];
let lastRun = 0;
let nextAt = Infinity;
let timer = 0;
let running = false;
let again = false;
let lastError = "";

// -- page skeleton ---------------------------------------------------------------------------

const panel = (id, title, ...body) => h("section", { id, class: "panel dash-panel", "aria-labelledby": `${id}-title` },
  h("h2", { id: `${id}-title` }, title), ...body);
const chartBox = (label) => h("div", { class: "chart-box", "aria-label": label });

const windowSelect = h("select", { id: "dash-hours", onchange: () => {
  hours = Number(windowSelect.value);
  params.set("hours", String(hours));
  history.replaceState(null, "", `?${params}`);
  refresh();
} }, ...WINDOWS.map(([n, text]) => h("option", { value: n, selected: n === hours }, text)));
const updated = h("span", { id: "dash-updated", class: "small muted" });
const counts = h("div", { id: "dash-counts", class: "counts dash-counts" });
const byType = chartBox("Incidents by type");
const byHour = chartBox("Incidents by hour");
const rate = chartBox("Events per second");
const rateNow = h("p", { id: "events-last-minute", class: "dash-figure" });
const ack = h("div", { class: "pct-box" });
const resolve = h("div", { class: "pct-box" });
const byState = chartBox("Open now by state");
const byPriority = chartBox("Opened by priority");
const unmappedBody = h("div", { class: "unmapped-box" }, h("p", { class: "muted" }, "Loading…"));
const windowText = () => WINDOWS.find(([n]) => n === hours)[1];
const typeTitle = h("span", {});
const hourTitle = h("span", {});

// -- formatting ------------------------------------------------------------------------------

function duration(seconds) {
  if (seconds == null) return "—";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86400)} d ${Math.round((seconds % 86400) / 3600)} h`;
}

const clock = (ms, seconds = false) => new Date(ms).toLocaleTimeString(undefined,
  { hour: "2-digit", minute: "2-digit", ...(seconds ? { second: "2-digit" } : {}), hour12: false });
const dayHour = (ms) => new Date(ms).toLocaleString(undefined,
  { weekday: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });

function hourLabel(many) {
  return (ms) => {
    const d = new Date(ms);
    if (many && d.getHours() === 0) return d.toLocaleDateString(undefined, { weekday: "short", day: "numeric" });
    return clock(ms);
  };
}

const typeName = (key) => (key === UNCLASSIFIED ? "unclassified (no mapping)" : typeNames.get(key) || key);

// -- rendering -------------------------------------------------------------------------------

function count(label, value, cls = "", id = undefined) {
  return h("div", { class: `count ${cls}`, id }, h("strong", {}, value.toLocaleString()), label);
}

function percentiles(box, p, what) {
  box.dataset.n = String(p.n);
  if (!p.n) {
    box.replaceChildren(h("p", { class: "pct-none" }, "no data"),
      h("p", { class: "small muted" }, `n = 0: no incident was ${what} in this window`));
    return;
  }
  box.replaceChildren(
    h("dl", { class: "pct" }, ...[["p50", p.p50], ["p90", p.p90], ["p99", p.p99]].map(([k, v]) =>
      h("div", { class: "pct-item" }, h("dt", {}, k), h("dd", { dataset: { p: k } }, duration(v))))),
    h("p", { class: "small muted pct-n" }, `n = ${p.n.toLocaleString()} incidents (drills left out)`));
}

function render(stats) {
  const total = Object.values(stats.open_by_state).reduce((a, b) => a + b, 0);
  counts.replaceChildren(
    count(`opened in ${windowText()}`, stats.opened, "", "count-opened"),
    count("exercise (drills, counted apart)", stats.exercise, "count-exercise", "count-exercise"),
    count("open now", total, "", "count-open"),
    count("events in the last minute", stats.events_last_minute, "", "count-events"));
  typeTitle.textContent = ` (top 15, ${windowText()})`;
  hourTitle.textContent = ` (${windowText()})`;

  const types = Object.entries(stats.by_type).sort((a, b) => b[1] - a[1]).slice(0, 15);
  barChart(byType, types.map(([key, n]) => ({ label: typeName(key), title: `${typeName(key)} (${key})`, value: n })),
    { title: `Incidents by type, top 15, last ${windowText()}`, unit: "incidents" });

  const points = stats.by_hour.map((b) => ({ at: b.hour_us / 1000, value: b.count }));
  columnChart(byHour, points, {
    title: `Incidents opened per hour, last ${windowText()}`, unit: "incidents",
    label: hourLabel(points.length > 30), long: dayHour,
  });

  // the bucket still filling would read as a sudden drop: leave it out
  const bucketUs = 10_000_000;
  const settled = stats.events_per_second.filter((r) => r.at_us + bucketUs <= stats.until_us);
  areaChart(rate, settled.map((r) => ({ at: r.at_us / 1000, value: r.per_second })), {
    title: "Events per second, last 10 minutes (10 s buckets)", unit: "events/s",
    label: (ms) => clock(ms), long: (ms) => clock(ms, true),
  });
  rateNow.replaceChildren(h("strong", {}, stats.events_last_minute.toLocaleString()), " events in the last minute");

  percentiles(ack, stats.acknowledge_s, "acknowledged");
  percentiles(resolve, stats.resolve_s, "resolved or closed");

  barChart(byState, ["new", "acknowledged", "dispatched"].map((state) => ({
    label: state, value: stats.open_by_state[state] || 0, cls: `ch-state-${state}` })),
  { title: "Open incidents now, by state", unit: "incidents" });
  barChart(byPriority, ["1", "2", "3", "4"].map((p) => ({ label: `P${p}`, value: stats.by_priority[p] || 0, cls: `ch-p${p}` })),
    { title: `Incidents opened by priority, last ${windowText()}`, unit: "incidents" });
  updated.textContent = `Updated ${clock(Date.now(), true)}`;
}

// -- codes waiting for a mapping -------------------------------------------------------------

const unmappedRows = new Map(); // code -> {tr, countCell}

function typeOptions() {
  const byCategory = new Map();
  for (const t of alarmTypes) {
    if (t.key === UNCLASSIFIED) continue;
    if (!byCategory.has(t.category)) byCategory.set(t.category, []);
    byCategory.get(t.category).push(t);
  }
  return [h("option", { value: "" }, "Choose an alarm type…"),
    ...[...byCategory.keys()].sort().map((category) => h("optgroup", { label: category },
      ...byCategory.get(category).sort((a, b) => a.name.localeCompare(b.name))
        .map((t) => h("option", { value: t.key }, `${t.name} (${t.key}, P${t.priority})`))))];
}

async function mapCode(code, select, button, message) {
  const key = select.value;
  if (!key) return;
  button.disabled = true;
  select.disabled = true;
  button.textContent = "Mapping…";
  message.hidden = true;
  try {
    await api(`/api/v1/mappings/${encodeURIComponent(code)}`, { method: "PUT", body: { alarm_type: key } });
    toast(`Mapped ${code} to ${typeName(key)}: its next events classify as that type.`, "ok");
    unmappedRows.get(code)?.tr.remove();
    unmappedRows.delete(code);
    if (!unmappedRows.size) renderUnmapped([]);
  } catch (err) {
    showError(err);
    message.textContent = `Refused${err.status ? ` (HTTP ${err.status})` : ""}: ${problemText(err)}`;
    message.hidden = false;
    button.disabled = false;
    select.disabled = false;
    button.textContent = "Map";
  }
}

function unmappedRow(item) {
  const code = item.vendor_code;
  const countCell = h("td", { class: "num" }, item.incidents.toLocaleString());
  const cells = [h("td", {}, h("code", {}, code)), countCell];
  if (config.can?.map_types) {
    const message = h("p", { class: "error small unmapped-error", role: "alert", hidden: true });
    const select = h("select", { dataset: { mapCode: code }, "aria-label": `Alarm type for ${code}` }, ...typeOptions());
    const button = h("button", { type: "button", class: "btn-primary", dataset: { mapCode: code }, disabled: true,
      onclick: () => mapCode(code, select, button, message) }, "Map");
    select.addEventListener("change", () => { button.disabled = !select.value; });
    cells.push(h("td", {}, h("div", { class: "row unmapped-action" }, select, button), message));
  }
  const tr = h("tr", { dataset: { code } }, ...cells);
  return { tr, countCell };
}

function renderUnmapped(list) {
  const admin = Boolean(config.can?.map_types);
  const note = admin
    ? h("p", { class: "small muted" }, "Events with these vendor codes open as unclassified incidents. Map each to an alarm type; the protected-category guard checks every mapping.")
    : h("p", { class: "small muted", id: "unmapped-readonly" }, "An administrator maps these codes to alarm types; until then their events open as unclassified incidents.");
  if (!list.length) {
    unmappedRows.clear();
    unmappedBody.replaceChildren(note, h("p", { class: "dash-empty" }, "No unclassified vendor codes are waiting."));
    return;
  }
  let tbody = unmappedBody.querySelector("tbody");
  if (!tbody) {
    tbody = h("tbody");
    unmappedBody.replaceChildren(note, h("div", { class: "table-scroll" }, h("table", { class: "unmapped-table" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Vendor code"), h("th", { scope: "col", class: "num" }, "Incidents"),
        admin ? h("th", { scope: "col" }, "Map to") : null)),
      tbody)));
  }
  // keyed: a row an administrator is working in keeps its selection across refreshes
  const seen = new Set();
  for (const item of list) {
    seen.add(item.vendor_code);
    const known = unmappedRows.get(item.vendor_code);
    if (known) known.countCell.textContent = item.incidents.toLocaleString();
    else unmappedRows.set(item.vendor_code, unmappedRow(item));
  }
  for (const [code, { tr }] of unmappedRows) {
    if (!seen.has(code)) { tr.remove(); unmappedRows.delete(code); }
  }
  list.forEach((item, i) => {
    const { tr } = unmappedRows.get(item.vendor_code);
    if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
  });
}

// -- refreshing ------------------------------------------------------------------------------

function scheduleAt(at) {
  if (at >= nextAt) return;
  nextAt = at;
  clearTimeout(timer);
  timer = setTimeout(refresh, Math.max(0, at - Date.now()));
}

async function refresh() {
  nextAt = Infinity;
  clearTimeout(timer);
  if (running) { again = true; return; }
  if (document.hidden) return; // visibilitychange brings us back
  running = true;
  lastRun = Date.now();
  try {
    const [stats, mappings] = await Promise.all([api(`/api/v1/stats?hours=${hours}`), api("/api/v1/mappings")]);
    render(stats);
    renderUnmapped(mappings.unmapped || []);
    lastError = "";
  } catch (err) {
    if (err.message !== lastError) showError(err); // once per distinct failure, not every 10 s
    lastError = err.message;
    updated.textContent = `Not updated since ${updated.dataset.at || "the page opened"}: ${err.message}`;
  } finally {
    running = false;
    if (!lastError) updated.dataset.at = clock(Date.now(), true);
    scheduleAt(lastRun + EVERY_MS);
    if (again) { again = false; scheduleAt(lastRun + AT_MOST_MS); }
  }
}

async function start() {
  mount(h("div", { class: "dash-page" },
    h("div", { class: "toolbar dash-toolbar" },
      h("h1", {}, "Dashboards"),
      h("div", {}, h("label", { for: "dash-hours" }, "Window"), windowSelect),
      h("button", { type: "button", id: "dash-refresh", onclick: () => refresh() }, "Refresh"),
      updated),
    counts,
    h("div", { class: "dash-grid" },
      panel("chart-by-hour", h("span", {}, "Incidents by hour", hourTitle), byHour),
      h("div", { class: "dash-pcts" },
        panel("ack-percentiles", "Time to acknowledge", ack),
        panel("resolve-percentiles", "Time to resolve", resolve)),
      panel("chart-rate", "Events per second (last 10 minutes)", rateNow, rate),
      h("div", { class: "dash-pcts" },
        panel("open-by-state", "Open now, by state", byState),
        panel("by-priority", h("span", {}, "Opened by priority", h("span", { class: "muted small" }, " (window)")), byPriority)),
      panel("chart-by-type", h("span", {}, "Incidents by type", typeTitle), byType),
      panel("unmapped", "Vendor codes waiting for an alarm type", unmappedBody))));
  try {
    alarmTypes = await api("/api/v1/alarm-types");
    typeNames = new Map(alarmTypes.map((t) => [t.key, t.name]));
  } catch (err) {
    showError(err); // the charts still work, with keys instead of names
  }
  await refresh();
  document.getElementById("app").dataset.ready = "true";
  document.addEventListener("visibilitychange", () => { if (!document.hidden) scheduleAt(Date.now()); });
  // live changes only hint that the figures moved; roles without the stream poll alone
  if (!config.can?.act) {
    const conn = document.getElementById("conn");
    if (conn) Object.assign(conn, { textContent: "polling", title: "figures refresh every 10 s" });
  }
  if (config.can?.act) live({ onChanges: () => scheduleAt(Math.max(Date.now(), lastRun + AT_MOST_MS)), onReset: () => scheduleAt(Date.now()) });
}

start().catch(showError);
