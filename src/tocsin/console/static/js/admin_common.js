// What the administration and audit pages share: times in epoch microseconds, server
// errors shown beside the form that caused them (field + message), confirmation
// dialogs, and the data-ready flag the browser tests wait for.
import { ApiError, fmtTime, h, mount, showError } from "./api.js";

// Roles a person may hold; "device" is for tokens only (machines posting events).
export const PERSON_ROLES = ["admin", "supervisor", "operator", "auditor"];
export const TOKEN_ROLES = [...PERSON_ROLES, "device"];

export function fromUs(us) {
  return us === undefined || us === null ? null : new Date(us / 1000);
}

export function fmtUs(us) {
  return fmtTime(fromUs(us));
}

export function timeCell(us) {
  const d = fromUs(us);
  return d ? h("time", { datetime: d.toISOString(), title: d.toISOString() }, fmtUs(us)) : "";
}

// The page is drawn: tests wait for this before looking at the tables.
export function ready() {
  document.getElementById("app")?.setAttribute("data-ready", "true");
}

// Render a page, or an honest failure when its first load fails.
export async function boot(render) {
  // The sticky top bar wraps to several lines on a phone; scrolled-to elements stay clear of it.
  const bar = document.querySelector(".topbar");
  const measure = () => document.documentElement.style.setProperty("--admin-topbar", `${bar?.offsetHeight || 0}px`);
  measure();
  addEventListener("resize", measure);
  try {
    await render();
  } catch (err) {
    mount(h("h1", {}, document.title.split(" · ")[0]),
      h("div", { class: "error-box", role: "alert" },
        h("strong", {}, "This page could not load its data. "), err?.message || String(err)));
    showError(err);
  } finally {
    ready();
  }
}

// Problems in a server answer as [{field, message}]; field is "" when it names none.
// The server says which field either as a path ("$.name"), a Litestar key, or a
// "field: message" prefix in its detail.
export function problems(err) {
  const body = err instanceof ApiError ? err.body : {};
  const out = [];
  for (const item of body.errors || []) {
    const path = String(item.path ?? item.key ?? "").replace(/^\$\.?/, "");
    out.push({ field: path, message: item.message || String(item), index: item.index });
  }
  if (!out.length) {
    const detail = err?.message || String(err);
    const match = /^([A-Za-z_][\w.-]*): (.+)$/s.exec(detail);
    out.push(match ? { field: match[1], message: match[2] } : { field: "", message: detail });
  }
  return out;
}

// Show a server error beside the form: a summary in `box`, and each message under the
// input it names (`inputs` maps field name → element). Returns the first bad input.
export function showFormError(box, err, inputs = {}, { focus = true } = {}) {
  clearFormError(box, inputs);
  const list = problems(err);
  const status = err instanceof ApiError ? `${err.status} ${err.body.error || ""}`.trim() : "";
  box.hidden = false;
  box.replaceChildren(
    h("p", {}, h("strong", {}, err?.message || "The request failed"), status ? h("span", { class: "muted small" }, ` (${status})`) : ""),
    list.length && (list.length > 1 || list[0].field)
      ? h("ul", {}, ...list.map((p) => h("li", {}, p.field ? h("code", {}, p.field) : "", p.field ? " — " : "", p.message)))
      : "");
  let first = null;
  for (const p of list) {
    const input = inputs[p.field.split(/[.[]/)[0]];
    if (!input) continue;
    input.setAttribute("aria-invalid", "true");
    const note = h("p", { class: "field-error", id: `${input.id}-error` }, p.message);
    input.setAttribute("aria-describedby", [input.dataset.hint, note.id].filter(Boolean).join(" "));
    input.closest(".field")?.append(note);
    first ||= input;
  }
  if (focus) first?.focus();
  return first;
}

export function clearFormError(box, inputs = {}) {
  box.hidden = true;
  box.replaceChildren();
  for (const input of Object.values(inputs)) {
    input.removeAttribute("aria-invalid");
    input.closest(".field")?.querySelectorAll(".field-error").forEach((n) => n.remove());
    if (input.dataset.hint) input.setAttribute("aria-describedby", input.dataset.hint);
    else input.removeAttribute("aria-describedby");
  }
}

// A labelled input wrapped in .field (where its error message goes), with a visible hint.
export function field(label, input, hint, cls = "") {
  const parts = [h("label", { for: input.id }, label), input];
  if (hint) {
    const note = h("p", { class: "hint", id: `${input.id}-hint` }, hint);
    input.dataset.hint = note.id;
    input.setAttribute("aria-describedby", note.id);
    parts.push(note);
  }
  return h("div", { class: `field ${cls}`.trim() }, ...parts);
}

export function select(id, values, selected, attrs = {}) {
  return h("select", { id, ...attrs },
    ...values.map((v) => {
      const [value, text] = Array.isArray(v) ? v : [v, v];
      return h("option", { value, selected: String(value) === String(selected) }, text);
    }));
}

// A modal question. `body` may hold inputs; resolves true when confirmed.
export function confirmDialog({ title, text, confirm = "Confirm", danger = false, body = [], id, onOpen }) {
  return new Promise((resolve) => {
    const ok = h("button", { type: "submit", value: "ok", class: danger ? "btn-danger" : "btn-primary" }, confirm);
    const dialog = h("dialog", { class: "modal admin-dialog", id, "aria-labelledby": "dlg-title" },
      h("form", { method: "dialog", class: "stack" },
        h("h2", { id: "dlg-title" }, title),
        text ? h("p", {}, text) : "",
        ...body,
        h("div", { class: "row dialog-actions" }, ok,
          h("button", { type: "button", class: "btn-quiet", onclick: () => dialog.close("cancel") }, "Cancel"))));
    dialog.addEventListener("close", () => {
      const result = dialog.returnValue === "ok";
      dialog.remove();
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
    onOpen?.(dialog);
  });
}

// Disable a button while its request runs, so a double click cannot send it twice.
export async function busy(button, work) {
  const was = button.disabled;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = was;
    button.removeAttribute("aria-busy");
  }
}

export function emptyRow(columns, text) {
  return h("tr", { class: "empty" }, h("td", { colspan: columns, class: "muted" }, text));
}

// The table head from [label, class?] pairs.
export function head(...columns) {
  return h("thead", {}, h("tr", {}, ...columns.map((c) => {
    const [label, cls] = Array.isArray(c) ? c : [c];
    return h("th", { scope: "col", class: cls }, label);
  })));
}
