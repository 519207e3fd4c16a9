// The incident page's read-only parts: header facts, the SOP checklist, the timeline
// (events and actions merged, newest first, like the queue and the events list), the
// events table and the location panel. Pure builders: they take the incident detail and
// return DOM; incident.js decides when to call them.

import { fmtTime, h, priorityBadge, stateBadge } from "./api.js";

const LABEL = {
  acknowledge: "acknowledged", assign: "assigned", dispatch: "dispatched", resolve: "resolved", close: "closed",
  reopen: "reopened", note: "note", merge: "merged", detach: "detached an event", sop: "procedure",
  open: "opened", escalate: "escalated",
};

// The queue as the person left it (filters included), remembered by queue.js.
export function queueUrl() {
  let url = null;
  try { url = sessionStorage.getItem("tocsin.queue.url"); } catch { /* storage off */ }
  return url && url.startsWith("/console/") ? url : "/console/";
}

export function header(d) {
  const typeLine = [h("code", {}, d.alarm_type), " · code ", h("code", {}, d.alarm_code), " · ", d.category];
  const facts = [
    ["Alarm type", typeLine],
    d.unmapped_type ? ["Vendor code", [h("span", { class: "tag tag-unmapped" }, "unmapped"), " ", h("code", {}, d.unmapped_type)]] : null,
    ["Site", d.site || h("span", { class: "muted" }, "not given")],
    ["Assignee", h("span", { id: "incident-assignee", class: d.assignee ? "" : "unassigned" }, d.assignee || "unassigned")],
    ["First event", h("time", { datetime: d.first_event_at }, fmtTime(d.first_event_at))],
    ["Last event", h("time", { datetime: d.last_event_at }, fmtTime(d.last_event_at))],
    ["Events", h("span", { id: "incident-events" }, String(d.event_count))],
    ["Opened", h("time", { datetime: d.opened_at }, fmtTime(d.opened_at))],
    d.disposition ? ["Disposition", h("span", { id: "incident-disposition" }, d.disposition.replaceAll("_", " "))] : null,
    d.merged_into ? ["Merged into", h("a", { href: `/console/incidents/${d.merged_into}` }, `#${d.merged_into}`)] : null,
  ].filter(Boolean);
  return h("section", { class: "panel incident-head", "aria-labelledby": "incident-title" },
    h("a", { href: queueUrl(), class: "back-link", id: "back", title: "Back to the queue (u or Backspace)" }, "← Queue"),
    h("div", { class: "badges" },
      priorityBadge(d.priority),
      h("span", { id: "incident-state" }, stateBadge(d.handling)),
      d.condition === "cleared"
        ? h("span", { class: "tag tag-cleared", id: "incident-condition" }, "cleared")
        : h("span", { class: "tag", id: "incident-condition" }, "active"),
      d.exercise ? h("span", { class: "tag tag-exercise", id: "incident-exercise" }, "EXERCISE") : null,
      h("span", { class: "muted small" }, `#${d.id}`)),
    h("h1", { id: "incident-title" }, d.title || d.alarm_type),
    h("dl", { class: "facts" }, ...facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
}

// The checklist: `onToggle(step, done, checkbox)` is called on a change (null: read-only).
export function sopPanel(d, onToggle) {
  const steps = d.sop || [];
  const done = steps.filter((s) => s.done).length;
  const canTick = Boolean(onToggle) && (d.allowed_actions || []).includes("sop");
  const body = steps.length
    ? h("ol", {}, ...steps.map((s) => {
      const id = `sop-${s.step}`;
      const box = h("input", { type: "checkbox", id, dataset: { sopStep: String(s.step) }, checked: Boolean(s.done),
        disabled: !canTick });
      if (canTick) box.addEventListener("change", () => onToggle(s.step, box.checked, box));
      return h("li", { class: s.done ? "done" : "" },
        box,
        h("label", { for: id }, `${s.step + 1}. ${s.text}`),
        s.done && s.by ? h("span", { class: "sop-by" }, `✓ ${s.by}, ${fmtTime(s.at)}`) : null);
    }))
    : h("p", { class: "muted" }, "This alarm type has no standard operating procedure.");
  return h("section", { class: "panel", id: "sop", "aria-labelledby": "sop-title" },
    h("h2", { id: "sop-title" }, "Procedure ", steps.length ? h("span", { class: "sop-progress" }, `${done} of ${steps.length} done`) : null),
    body);
}

function dataLine(entry, sop) {
  const data = { ...(entry.data || {}) };
  delete data.role;
  if (entry.action === "sop") {
    const step = Number(data.step);
    const text = sop?.[step]?.text;
    const verb = data.done === false ? "unticked" : "ticked";
    return `${verb} step ${step + 1}${text ? `: ${text}` : ""}`;
  }
  const parts = Object.entries(data).map(([k, v]) => `${k.replaceAll("_", " ")}: ${String(v).replaceAll("_", " ")}`);
  return parts.join(" · ");
}

function actionEntry(entry, sop) {
  const role = entry.data?.role;
  const moved = entry.from_state && entry.to_state && entry.from_state !== entry.to_state;
  const data = dataLine(entry, sop);
  return h("li", { dataset: { entry: "action", action: entry.action }, class: `act-${entry.action}${entry.pending ? " pending" : ""}` },
    h("div", { class: "tl-head" },
      h("time", { class: "tl-time", datetime: entry.at }, fmtTime(entry.at)),
      h("span", { class: "tl-who" }, entry.actor), role ? h("span", { class: "muted small" }, role) : null,
      h("span", { class: "tl-what" }, LABEL[entry.action] || entry.action),
      moved ? h("span", { class: "tl-move" }, stateBadge(entry.from_state), " → ", stateBadge(entry.to_state)) : null,
      entry.pending ? h("span", { class: "muted small" }, "(just now; full timeline on reload)") : null),
    entry.text ? h("p", { class: "tl-text" }, entry.text) : null,
    data ? h("div", { class: "tl-data" }, data) : null);
}

function eventEntry(ev) {
  return h("li", { dataset: { entry: "event", eventId: String(ev.id) } },
    h("div", { class: "tl-head" },
      h("time", { class: "tl-time", datetime: ev.occurred_at, title: `received ${fmtTime(ev.received_at)}` }, fmtTime(ev.occurred_at)),
      h("span", { class: "tl-what" }, "event"), h("code", {}, ev.type),
      ev.condition === "cleared" ? h("span", { class: "tag tag-cleared" }, "cleared") : null,
      ev.exercise ? h("span", { class: "tag tag-exercise" }, "EXERCISE") : null,
      h("span", { class: "muted small" }, `${ev.source} · ${ev.method.replaceAll("_", " ")}`)),
    ev.description ? h("p", { class: "tl-text" }, ev.description) : null);
}

// Newest first, like the events list and the queue's live updates: what just happened is
// what the operator needs first. Events sort by receipt (the server's clock, like actions).
export function timeline(d, { showEvents }) {
  const entries = (d.timeline || []).map((t) => ({ t: Date.parse(t.at), node: () => actionEntry(t, d.sop) }));
  if (showEvents) {
    for (const ev of d.events || []) entries.push({ t: Date.parse(ev.received_at), node: () => eventEntry(ev) });
  }
  entries.sort((a, b) => b.t - a.t);
  return h("ol", { id: "timeline", "aria-label": "Timeline, newest first" }, ...entries.map((e) => e.node()));
}

function attributes(ev) {
  const attrs = Object.entries(ev.attributes || {});
  if (!attrs.length) return null;
  return h("div", { class: "attrs" }, attrs.map(([k, v]) => `${k}=${v}`).join(" · "));
}

// `onDetach(event)` is offered per event when detaching is allowed and leaves something behind.
export function eventsPanel(d, onDetach) {
  const events = d.events || [];
  const canDetach = Boolean(onDetach) && (d.allowed_actions || []).includes("detach") && d.event_count > 1;
  return h("section", { class: "panel", id: "events", "aria-labelledby": "events-title" },
    h("h2", { id: "events-title" }, `Events (${d.event_count})`),
    d.events_truncated ? h("p", { class: "muted small" }, `Showing the latest ${events.length} of ${d.event_count}.`) : null,
    h("table", { class: "events-table" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Occurred"), h("th", { scope: "col" }, "Type"),
        h("th", { scope: "col", class: "hide-narrow" }, "Source"), h("th", { scope: "col" }, "Details"),
        canDetach ? h("th", { scope: "col" }, h("span", { class: "muted" }, "")) : null)),
      h("tbody", {}, ...events.map((ev) => h("tr", { dataset: { eventId: String(ev.id) } },
        h("td", {}, h("time", { datetime: ev.occurred_at }, fmtTime(ev.occurred_at))),
        h("td", {}, h("code", {}, ev.type), " ",
          ev.condition === "cleared" ? h("span", { class: "tag tag-cleared" }, "cleared") : null,
          ev.exercise ? h("span", { class: "tag tag-exercise" }, "EXERCISE") : null),
        h("td", { class: "hide-narrow" }, ev.source, h("div", { class: "muted small" }, ev.method.replaceAll("_", " "))),
        h("td", {}, ev.description || "", ev.site && ev.site !== d.site ? h("div", { class: "muted small" }, ev.site) : null,
          attributes(ev)),
        canDetach ? h("td", {}, h("button", { type: "button", class: "btn-quiet", dataset: { detach: String(ev.id) },
          title: "Move this event into an incident of its own", onclick: () => onDetach(ev) }, "Detach")) : null)))));
}

let mapKey = null;
let mapPanel = null;

// Built once per position, so a re-render does not redraw the map.
export function locationPanel(d) {
  const loc = d.location;
  const key = loc ? `${loc.lat},${loc.lon}` : `none:${d.site || ""}`;
  if (mapPanel && key === mapKey) return mapPanel;
  mapKey = key;
  const title = h("h2", { id: "location-title" }, "Location");
  if (!loc) {
    mapPanel = h("section", { class: "panel location", "aria-labelledby": "location-title" }, title,
      h("p", { class: "muted" }, d.site ? `No coordinates reported; site: ${d.site}` : "No location reported."));
    return mapPanel;
  }
  const coords = `${Number(loc.lat).toFixed(5)}, ${Number(loc.lon).toFixed(5)}`;
  const box = h("div", { class: "minimap", id: "minimap", role: "img", "aria-label": `Map of ${coords}` });
  mapPanel = h("section", { class: "panel location", "aria-labelledby": "location-title" }, title,
    h("p", {}, d.site ? `${d.site} · ` : "", h("span", { class: "coords", id: "incident-coords" }, coords)), box);
  (async () => {
    try {
      const { miniMap } = await import("./mapview.js");
      await miniMap(box, { lat: loc.lat, lon: loc.lon, label: d.title || d.alarm_type, priority: d.priority });
    } catch {
      // no map module (yet) or no map library: the coordinates above are the location
      box.replaceWith(h("p", { class: "muted small" }, "Map not available; coordinates above."));
    }
  })();
  return mapPanel;
}
