// /console/admin/tokens: API tokens for devices and scripts. The server keeps only a
// token's SHA-256, so its secret exists in exactly one answer: the creation's. We show
// it once in a dialog and drop it from the page when the dialog closes.
import { api, h, mount, showError, toast } from "./api.js";
import {
  TOKEN_ROLES, boot, busy, clearFormError, confirmDialog, emptyRow, field, head, select, showFormError, timeCell,
} from "./admin_common.js";

const tbody = h("tbody", {});
const count = h("span", { class: "muted small", id: "tokens-count" });

async function copy(text, input, status) {
  try {
    await navigator.clipboard.writeText(text);
    status.textContent = "Copied to the clipboard.";
  } catch {
    // No clipboard permission: select it so Ctrl+C / long-press copies it.
    input.focus();
    input.select();
    status.textContent = "Could not copy automatically: the secret is selected, copy it with Ctrl+C.";
  }
}

function showSecret(made) {
  return new Promise((resolve) => {
    // A textarea, so the whole secret stays visible (wrapped) even on a phone.
    const input = h("textarea", {
      id: "token-secret-value", readonly: true, rows: 2, class: "mono secret", spellcheck: "false",
      "aria-label": "Token secret", autocomplete: "off",
    });
    input.value = made.token;
    const status = h("p", { class: "small", role: "status", "aria-live": "polite" });
    const dialog = h("dialog", { class: "modal admin-dialog", id: "token-secret", "aria-labelledby": "token-secret-title" },
      h("h2", { id: "token-secret-title" }, `Token “${made.name}” (${made.role})`),
      h("p", { class: "warn-box" }, h("strong", {}, "Copy this secret now: it will not be shown again. "),
        "tocsin stores only its hash. If it is lost, revoke the token and create a new one."),
      h("div", { class: "secret-row" }, input,
        h("button", { type: "button", class: "btn-primary", id: "token-copy", onclick: () => copy(made.token, input, status) }, "Copy")),
      status,
      h("p", { class: "muted small" }, "Use it as ", h("code", {}, "Authorization: Bearer <secret>"), "."),
      h("form", { method: "dialog", class: "row dialog-actions" },
        h("button", { type: "submit", id: "token-secret-close" }, "I have copied it — close")));
    dialog.addEventListener("cancel", (event) => {
      // Esc should not lose the secret by accident: only the explicit button closes.
      event.preventDefault();
    });
    dialog.addEventListener("close", () => {
      input.value = "";
      dialog.remove();
      resolve();
    });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
    input.select();
  });
}

function createForm() {
  const name = h("input", { id: "token-name", name: "name", required: true, maxlength: 200, autocomplete: "off" });
  const role = select("token-role", TOKEN_ROLES, "device", { name: "role" });
  const errors = h("div", { class: "error-box", id: "token-error", role: "alert", hidden: true });
  const inputs = { name, role };
  const submit = h("button", { type: "submit", class: "btn-primary" }, "Create token");
  const form = h("form", { id: "token-form", class: "panel form-grid", novalidate: true, "aria-labelledby": "token-form-title" },
    h("h2", { id: "token-form-title" }, "New token"),
    field("Name", name, "What uses it, e.g. “north gate panel” or “CAD bridge”."),
    field("Role", role, "“device” may only post events; give scripts the least role they need."),
    h("div", { class: "form-actions" }, submit),
    errors);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormError(errors, inputs);
    if (!name.value.trim()) {
      showFormError(errors, new Error("name: give the token a name"), inputs);
      return;
    }
    await busy(submit, async () => {
      let made;
      try {
        made = await api("/api/v1/tokens", { method: "POST", body: { name: name.value.trim(), role: role.value } });
      } catch (err) {
        showFormError(errors, err, inputs);
        return;
      }
      form.reset();
      role.value = "device";
      load().catch(showError);
      await showSecret(made);
    });
  });
  return form;
}

async function revoke(token, button) {
  const ok = await confirmDialog({
    title: `Revoke token “${token.name}”?`,
    text: `Anything using it (${token.role}) is refused from now on. This cannot be undone; a new token has a new secret.`,
    confirm: "Revoke",
    danger: true,
  });
  if (!ok) return;
  await busy(button, async () => {
    try {
      await api(`/api/v1/tokens/${token.id}`, { method: "DELETE" });
      toast(`Token “${token.name}” revoked`, "ok");
      await load();
    } catch (err) {
      showError(err);
    }
  });
}

function row(token) {
  const revokeButton = token.revoked_us ? null
    : h("button", { type: "button", class: "btn-danger", "data-action": "revoke" }, "Revoke");
  revokeButton?.addEventListener("click", () => revoke(token, revokeButton));
  return h("tr", { dataset: { tokenId: token.id }, class: token.revoked_us ? "is-disabled" : "" },
    h("th", { scope: "row", "data-label": "Name" }, token.name),
    h("td", { "data-label": "Role" }, h("span", { class: `role role-${token.role}` }, token.role)),
    h("td", { "data-label": "Created" }, timeCell(token.created_us)),
    h("td", { "data-label": "Revoked" }, token.revoked_us ? timeCell(token.revoked_us) : h("span", { class: "muted" }, "no")),
    h("td", { class: "actions", "data-label": "" }, revokeButton || h("span", { class: "muted small" }, "revoked")));
}

async function load() {
  const tokens = await api("/api/v1/tokens");
  // Live tokens first, newest first; revoked ones after them.
  tokens.sort((a, b) => (a.revoked_us ? 1 : 0) - (b.revoked_us ? 1 : 0) || b.created_us - a.created_us);
  tbody.replaceChildren(...(tokens.length ? tokens.map(row) : [emptyRow(5, "No tokens yet.")]));
  const live = tokens.filter((t) => !t.revoked_us).length;
  count.textContent = `${live} in use, ${tokens.length - live} revoked`;
}

boot(async () => {
  mount(
    h("h1", {}, "API tokens"),
    h("p", { class: "muted intro" },
      "Tokens let equipment and scripts call the API. A token's secret is shown once, when it is created; ",
      "tocsin keeps only its hash. Creating and revoking tokens is written to the audit log."),
    createForm(),
    h("section", { class: "panel", "aria-labelledby": "tokens-title" },
      h("div", { class: "section-head" }, h("h2", { id: "tokens-title" }, "Tokens"), count),
      h("div", { class: "table-wrap" },
        h("table", { id: "tokens", class: "admin-table cards" },
          head("Name", "Role", "Created", "Revoked", ["", "actions"]), tbody))));
  await load();
});
