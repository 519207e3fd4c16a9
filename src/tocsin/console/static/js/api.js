// The console's one way to talk to the server: the same JSON API integrators use.
// Every change carries X-Requested-With: tocsin (the server refuses cookie-authenticated
// changes without it, so another site cannot forge one). Data is put into the page with
// textContent only, never innerHTML: alarm descriptions come from equipment and the public.

export const config = JSON.parse(document.getElementById("config")?.textContent || "{}");

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (method !== "GET" && method !== "HEAD") init.headers["X-Requested-With"] = "tocsin";
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    location.assign(`/console/login?next=${encodeURIComponent(location.pathname)}`);
    throw new ApiError(401, { detail: "session ended; log in again" });
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { detail: text }; }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// Ask for a justification (purpose, text, case number) when the server wants one, then retry.
// `kept`, when given, holds the headers once given, so later calls with it (live reloads of
// the same page view) do not ask again; a retry that still fails forgets them. With
// prompt: false nobody is asked, and the refusal is thrown.
export async function consulting(path, options = {}, { kept = null, prompt = true } = {}) {
  const withHeaders = (headers) => api(path, { ...options, headers: { ...(options.headers || {}), ...headers } });
  if (kept?.headers) return withHeaders(kept.headers);
  try {
    return await api(path, options);
  } catch (err) {
    if (!(err instanceof ApiError) || err.body.error !== "justification_required" || !prompt) throw err;
    const given = await justify(err.message);
    if (!given) throw err;
    const headers = { "X-Justification": given.purpose, "X-Justification-Text": given.text, "X-Case-Number": given.caseNumber };
    if (kept) kept.headers = headers;
    try {
      return await withHeaders(headers);
    } catch (again) {
      if (kept) kept.headers = null;
      throw again;
    }
  }
}

export function justify(reason) {
  return new Promise((resolve) => {
    const select = h("select", { id: "just-purpose", required: true },
      ...(config.purposes || []).map((p) => h("option", { value: p }, p.replaceAll("_", " "))));
    const text = h("input", { id: "just-text", required: true, minlength: 3 });
    const caseNo = h("input", { id: "just-case" });
    const form = h("form", { method: "dialog", class: "stack" },
      h("h2", {}, "Why are you looking?"),
      h("p", { class: "muted" }, reason),
      h("label", { for: "just-purpose" }, "Purpose"), select,
      h("label", { for: "just-text" }, "Reason"), text,
      h("label", { for: "just-case" }, "Case number"), caseNo,
      h("div", { class: "row" },
        h("button", { type: "submit", class: "btn-primary", value: "ok" }, "Continue (recorded)"),
        h("button", { type: "button", class: "btn-quiet", onclick: () => dialog.close("cancel") }, "Cancel")));
    const dialog = h("dialog", { class: "modal", "aria-label": "Justification" }, form);
    dialog.addEventListener("close", () => {
      const ok = dialog.returnValue === "ok";
      dialog.remove();
      resolve(ok ? { purpose: select.value, text: text.value, caseNumber: caseNo.value } : null);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

// h("a", {href, class, onclick}, "text", child...): build DOM without parsing HTML.
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function toast(message, kind = "info", ms = 5000) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = h("div", { class: `toast toast-${kind}` }, message);
  box.append(item);
  setTimeout(() => item.remove(), ms);
}

// An error as one line: its message, then each problem the server listed ("path message").
export function problemText(err) {
  const details = (err?.body?.errors || []).map((e) => `${e.path ?? ""} ${e.message ?? ""}`.trim());
  return [err?.message || String(err), ...details].join(" · ");
}

export function showError(err) {
  toast(problemText(err), "error", 9000);
}

export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { hour12: false });
}

export function fmtAge(iso, now = Date.now()) {
  if (!iso) return "";
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export function priorityBadge(priority) {
  return h("span", { class: `prio prio-${priority}`, title: `priority ${priority}` }, `P${priority}`);
}

export function stateBadge(handling) {
  return h("span", { class: `state state-${handling}` }, handling);
}

export function mount(...children) {
  const app = document.getElementById("app");
  app.replaceChildren(...children);
  return app;
}
