// Acting on an incident: the buttons (only for actions the server says are allowed now),
// the small dialogs that collect what an action needs, and the POST. The caller gets the
// server's answer and re-renders from it.

import { api, config, h } from "./api.js";

// [action, label, shortcut key]; the incident page takes its keyboard shortcuts from here
export const ACTIONS = [
  ["acknowledge", "Acknowledge", "a"],
  ["assign", "Assign…", null],
  ["dispatch", "Dispatch…", null],
  ["note", "Note…", "n"],
  ["resolve", "Resolve…", "r"],
  ["close", "Close…", "c"],
  ["reopen", "Reopen…", null],
];
const NEXT_STEP = { new: "acknowledge", acknowledged: "dispatch", dispatched: "resolve", resolved: "close" };

// A form in a modal dialog; resolves to {name: value} or null when cancelled.
export function ask(title, fields, submitLabel) {
  return new Promise((resolve) => {
    const controls = {};
    const rows = fields.map((f) => {
      const id = `ask-${f.name}`;
      let el;
      if (f.type === "select") {
        el = h("select", { id, name: f.name, required: f.required },
          h("option", { value: "" }, "choose…"),
          ...f.options.map((o) => h("option", { value: o }, o.replaceAll("_", " "))));
      } else if (f.type === "textarea") {
        el = h("textarea", { id, name: f.name, required: f.required, maxlength: 4000, rows: 4 });
      } else {
        el = h("input", { id, name: f.name, type: f.type || "text", required: f.required, autocomplete: "off",
          min: f.min });
      }
      if (f.value != null) el.value = String(f.value);
      controls[f.name] = el;
      return [h("label", { for: id }, f.label, f.required ? "" : " (optional)"), el];
    });
    const dialog = h("dialog", { class: "modal", "aria-label": title });
    const form = h("form", { method: "dialog", class: "stack" },
      h("h2", {}, title), ...rows.flat(),
      h("div", { class: "row" },
        h("button", { type: "submit", class: "btn-primary", value: "ok", id: "ask-ok" }, submitLabel),
        h("button", { type: "button", class: "btn-quiet", onclick: () => dialog.close("cancel") }, "Cancel")));
    // Ctrl/Cmd+Enter submits from a textarea, as in most chat and ticket tools
    form.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); }
    });
    dialog.append(form);
    dialog.addEventListener("close", () => {
      const ok = dialog.returnValue === "ok";
      dialog.remove();
      resolve(ok ? Object.fromEntries(Object.entries(controls).map(([k, el]) => [k, el.value.trim()])) : null);
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = Object.values(controls)[0];
    if (first) { first.focus(); if (first.select) first.select(); }
  });
}

const clean = (obj) => Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== "" && v != null));

// What each action needs from the person; null = cancelled.
async function collect(action, detail, extra) {
  const text = { name: "text", label: "Note", type: "textarea" };
  switch (action) {
    case "acknowledge":
      return {};
    case "assign":
      return ask("Assign incident", [{ name: "assignee", label: "Assignee", required: true,
        value: config.user?.name || "" }, text], "Assign");
    case "dispatch":
      return ask("Dispatch", [{ ...text, label: "Who or what was dispatched" }], "Dispatch");
    case "note":
      return ask("Add a note", [{ ...text, required: true }], "Add note");
    case "resolve":
      return ask("Resolve incident", [{ ...text, label: "Outcome" }], "Resolve");
    case "close":
      return ask("Close incident", [{ name: "disposition", label: "Disposition", type: "select", required: true,
        options: config.dispositions || [] }, text], "Close");
    case "reopen":
      return ask("Reopen incident", [{ ...text, label: "Why reopen" }], "Reopen");
    case "merge": {
      const got = await ask("Merge into another incident", [{ name: "into", label: "Target incident number", type: "number",
        required: true, min: 1 }, text], "Merge");
      if (!got) return null;
      return { ...got, into: Number(got.into) };
    }
    case "detach": {
      const got = await ask(`Detach event #${extra.id} (${extra.type})`, [{ ...text, label: "Why" }], "Detach");
      return got ? { ...got, event_id: extra.id } : null;
    }
    default:
      return {};
  }
}

// Ask what the action needs, POST it; resolves to the answer or null when cancelled.
export async function perform(id, action, detail, extra = {}) {
  const fields = await collect(action, detail, extra);
  if (!fields) return null;
  return api(`/api/v1/incidents/${id}/actions`, { method: "POST", body: clean({ action, ...fields }) });
}

export function postSop(id, step, done) {
  return api(`/api/v1/incidents/${id}/actions`, { method: "POST", body: { action: "sop", step, done } });
}

// The buttons: one per allowed action, nothing for the rest. `run(action)` does the work.
export function actionsPanel(detail, run) {
  const allowed = new Set(detail.allowed_actions || []);
  if (!config.can?.act) {
    return h("section", { class: "panel", id: "actions", "aria-label": "Actions" },
      h("p", { class: "readonly-note muted" }, "Read-only: your role cannot act on incidents."));
  }
  const next = NEXT_STEP[detail.handling];
  const buttons = ACTIONS.filter(([a]) => allowed.has(a)).map(([action, label, key]) =>
    h("button", { type: "button", dataset: { action }, class: action === next ? "btn-primary" : "",
      title: key ? `${label.replace("…", "")} (${key})` : label.replace("…", ""),
      "aria-keyshortcuts": key || undefined, onclick: () => run(action) },
    label, key ? h("kbd", { "aria-hidden": "true" }, key) : null));
  const more = allowed.has("merge")
    ? h("details", { class: "more-actions" }, h("summary", {}, "More"),
      h("div", { class: "actions" },
        h("button", { type: "button", dataset: { action: "merge" }, title: "Merge this incident into another one",
          onclick: () => run("merge") }, "Merge into…")),
      allowed.has("detach") ? h("p", { class: "muted small" }, "To detach an event, use its Detach button in the events list.") : null)
    : null;
  return h("section", { class: "panel", id: "actions", "aria-labelledby": "actions-title" },
    h("h2", { id: "actions-title" }, "Actions"),
    buttons.length ? h("div", { class: "actions" }, ...buttons) : h("p", { class: "muted" }, "No action is possible in this state."),
    more);
}
