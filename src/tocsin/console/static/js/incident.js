// One incident (/console/incidents/{id}): what it is, who holds it, the procedure to
// follow, everything that happened, and the actions allowed now. Changes by anyone (another
// console, an API client) arrive over the live stream and reload the detail.
//
// Reading a non-open incident needs a justification (the consultation is audited). The
// one the person gives is kept for this page view, so live reloads of the same incident
// do not ask again; it is never invented on their behalf.

import { ApiError, config, consulting, h, mount, showError, toast } from "./api.js";
import { gPrefix, typing } from "./keys.js";
import { live } from "./live.js";
import { ACTIONS, actionsPanel, perform, postSop } from "./incident_actions.js";
import { eventsPanel, header, locationPanel, queueUrl, sopPanel, timeline } from "./incident_render.js";

const id = Number(config.incident_id);
// Used only when the server's allowed_actions cannot be fetched without a justification
// (a closed/resolved incident changed live): mirrors tocsin.engine.lifecycle.TRANSITIONS.
const ALLOWED_FROM = {
  new: ["acknowledge", "assign", "merge", "detach", "note", "sop"],
  acknowledged: ["dispatch", "resolve", "close", "assign", "merge", "detach", "note", "sop"],
  dispatched: ["resolve", "close", "assign", "merge", "detach", "note", "sop"],
  resolved: ["close", "reopen", "note", "sop"],
  closed: ["note"],
  merged: ["note"],
};
const OPEN = new Set(["new", "acknowledged", "dispatched"]);
const RELOAD_DEBOUNCE_MS = 250;
const EVENTS_KEY = "tocsin.timeline.events";
const canAct = Boolean(config.can?.act);
const app = document.getElementById("app");

let detail = null;
const justification = { headers: null }; // once given, for this page view
let stale = false; // the timeline is older than the header (a reload would need a justification)
let reloadTimer = null;
let busy = false;
let showEvents = localStorage.getItem(EVENTS_KEY) !== "0";

function fetchDetail({ prompt }) {
  return consulting(`/api/v1/incidents/${id}`, {}, { kept: justification, prompt });
}

async function load({ prompt = true } = {}) {
  try {
    detail = await fetchDetail({ prompt });
    stale = false;
    render();
  } catch (err) {
    if (detail) { showError(err); return; }
    renderProblem(err);
  } finally {
    app.dataset.ready = "true";
  }
}

// A change arrived or we acted: reload the detail, unless that would ask for a
// justification nobody is there to give (then say the timeline may be behind).
function scheduleReload(incident) {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => {
    const handling = incident?.handling ?? detail?.handling;
    if (OPEN.has(handling) || justification.headers || !canAct) {
      load({ prompt: false });
    } else {
      // show the new state now from the change itself; the timeline waits for a justification
      stale = true;
      if (incident && incident.id === id) {
        mergeIncident(incident);
        detail.allowed_actions = ALLOWED_FROM[incident.handling] || [];
      }
      render();
    }
  }, RELOAD_DEBOUNCE_MS);
}

function renderProblem(err) {
  const notFound = err instanceof ApiError && err.status === 404;
  const needsWhy = err instanceof ApiError && err.body?.error === "justification_required";
  mount(h("section", { class: "panel" },
    h("a", { href: "/console/", class: "back-link" }, "← Queue"),
    h("h1", {}, notFound ? `Incident #${id} does not exist` : `Incident #${id}`),
    h("p", { class: needsWhy ? "" : "error" }, needsWhy
      ? "This incident is no longer open: looking at it needs a justification, which is recorded."
      : err.message || String(err)),
    needsWhy ? h("button", { type: "button", class: "btn-primary", onclick: () => load() }, "Give a justification") : null));
  if (!notFound && !needsWhy) showError(err);
}

// ---- acting ----
async function run(action, extra) {
  if (!detail || busy) return;
  if (!(detail.allowed_actions || []).includes(action)) {
    const label = ACTIONS.find(([a]) => a === action)?.[1]?.replace("…", "") || action;
    toast(`${label} is not possible while the incident is ${detail.handling}.`, "info", 4000);
    return;
  }
  busy = true;
  try {
    const res = await perform(id, action, detail, extra);
    if (!res) return;
    applyAnswer(res, { at: new Date().toISOString(), actor: config.user?.name, action,
      from_state: detail.handling, to_state: res.incident.handling, pending: true });
    toast(`Done: ${action}`, "ok", 2500);
    if (res.new_incident_id) {
      toast(`The event is now incident #${res.new_incident_id}.`, "ok", 8000);
    }
  } catch (err) {
    showError(err);
  } finally {
    busy = false;
  }
}

// Take the list-shaped incident (an action's answer, a live change) into the detail.
function mergeIncident(incident) {
  const fields = { ...incident };
  delete fields.events;
  delete fields.timeline;
  detail = { ...detail, ...fields };
  for (const key of ["assignee", "disposition", "merged_into", "exercise", "unmapped_type"]) {
    if (!(key in incident)) delete detail[key]; // omitted means default
  }
}

function applyAnswer(res, entry) {
  mergeIncident(res.incident);
  detail.allowed_actions = res.allowed_actions;
  if (entry) detail.timeline = [...(detail.timeline || []), entry];
  render();
  scheduleReload(res.incident);
}

async function toggleSop(step, done, box) {
  box.disabled = true;
  try {
    const res = await postSop(id, step, done);
    const sop = (detail.sop || []).map((s) => (s.step === step
      ? { ...s, done, by: done ? config.user?.name : undefined, at: done ? new Date().toISOString() : undefined } : s));
    detail = { ...detail, sop };
    applyAnswer(res, { at: new Date().toISOString(), actor: config.user?.name, action: "sop", data: { step, done },
      pending: true });
  } catch (err) {
    box.checked = !done;
    box.disabled = false;
    showError(err);
  }
}

const detach = (ev) => run("detach", ev);

// ---- rendering ----
function focusKey() {
  const el = document.activeElement;
  if (!(el instanceof HTMLElement) || !app.contains(el)) return null;
  if (el.dataset.action) return `[data-action="${el.dataset.action}"]`;
  if (el.dataset.sopStep) return `input[data-sop-step="${el.dataset.sopStep}"]`;
  if (el.dataset.detach) return `button[data-detach="${el.dataset.detach}"]`;
  if (el.id) return `#${CSS.escape(el.id)}`;
  return null;
}

function render() {
  const d = detail;
  const keep = focusKey();
  const eventsToggle = h("input", { type: "checkbox", id: "tl-events", checked: showEvents });
  eventsToggle.addEventListener("change", () => {
    showEvents = eventsToggle.checked;
    localStorage.setItem(EVENTS_KEY, showEvents ? "1" : "0");
    render();
  });
  const notices = [];
  if (d.handling === "merged" && d.merged_into) {
    notices.push(h("p", { class: "notice", role: "status" }, "This incident was merged into ",
      h("a", { href: `/console/incidents/${d.merged_into}` }, `#${d.merged_into}`), "."));
  }
  if (stale) {
    notices.push(h("p", { class: "notice", role: "status" },
      `This incident is now ${d.handling}; the timeline below may be behind. `,
      h("button", { type: "button", onclick: () => load() }, "Reload (needs a justification)")));
  }
  document.title = `#${d.id} ${d.title || d.alarm_type} · tocsin`;
  mount(h("div", { class: "incident-page" },
    h("div", { class: "incident-left" },
      header(d), ...notices,
      actionsPanel(d, (action) => run(action)),
      sopPanel(d, canAct ? toggleSop : null),
      locationPanel(d)),
    h("div", { class: "incident-right" },
      h("section", { class: "panel", "aria-labelledby": "timeline-title" },
        h("div", { class: "timeline-tools" },
          h("h2", { id: "timeline-title" }, "Timeline ", h("span", { class: "muted small" }, "newest first")),
          h("label", { for: "tl-events" }, eventsToggle, "show events")),
        timeline(d, { showEvents })),
      eventsPanel(d, canAct ? detach : null))));
  if (keep) {
    const el = app.querySelector(keep);
    if (el && !el.disabled) el.focus({ preventScroll: true });
  }
}

// ---- keyboard: a n r c, u / Backspace back to the queue ----
const KEYS = Object.fromEntries(ACTIONS.filter(([, , key]) => key).map(([action, , key]) => [key, action]));

const back = () => location.assign(queueUrl());

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (typing(event.target, { exceptCheckboxes: true })) return;
  if (document.querySelector("dialog[open]")) return;
  if (gPrefix(event)) return; // the shell's g q / g m / g d
  if (event.key === "u" || event.key === "Backspace") {
    event.preventDefault();
    back();
    return;
  }
  const action = KEYS[event.key];
  if (!action || !detail || !canAct) return;
  event.preventDefault();
  run(action);
});

// ---- start ----
if (canAct) {
  // only people who work incidents may follow the stream; others reload by hand
  live({
    onChanges(batch) {
      const mine = batch.filter((c) => c.incident?.id === id || c.incident?.merged_into === id);
      if (mine.length) scheduleReload(mine[mine.length - 1].incident);
    },
    onReset() { if (detail) scheduleReload(); },
  });
}
load();
