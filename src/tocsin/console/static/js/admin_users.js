// /console/admin/users: the accounts of people (never machines: those hold tokens).
// Changing a role, disabling an account or setting its password ends its open
// sessions; the server records each change in the audit log.
import { api, config, h, mount, showError, toast } from "./api.js";
import {
  PERSON_ROLES, boot, busy, clearFormError, confirmDialog, emptyRow, field, head, problems, select, showFormError,
  timeCell,
} from "./admin_common.js";

const MIN_PASSWORD = 12;
const tbody = h("tbody", {});
const count = h("span", { class: "muted small", id: "users-count" });

function passwordRule(input) {
  // The rule is visible before anyone types, and says when it is met.
  const rule = h("p", { class: "hint", id: `${input.id}-hint`, "aria-live": "polite" });
  const update = () => {
    const n = input.value.length;
    rule.textContent = n >= MIN_PASSWORD
      ? `✓ At least ${MIN_PASSWORD} characters (${n}).`
      : `At least ${MIN_PASSWORD} characters — ${n ? `${MIN_PASSWORD - n} more` : "a passphrase of a few words works well"}.`;
    rule.classList.toggle("hint-ok", n >= MIN_PASSWORD);
  };
  input.addEventListener("input", update);
  update();
  input.dataset.hint = rule.id;
  input.setAttribute("aria-describedby", rule.id);
  return rule;
}

function createForm() {
  const username = h("input", {
    id: "user-username", name: "username", required: true, maxlength: 100, autocomplete: "off",
    pattern: "[A-Za-z0-9][A-Za-z0-9._\\-]*", spellcheck: "false",
  });
  const password = h("input", {
    id: "user-password", name: "password", type: "password", required: true, minlength: MIN_PASSWORD,
    maxlength: 1000, autocomplete: "new-password",
  });
  const role = select("user-role", PERSON_ROLES, "operator", { name: "role", required: true });
  const show = h("input", { type: "checkbox", id: "user-password-show" });
  show.addEventListener("change", () => { password.type = show.checked ? "text" : "password"; });
  const errors = h("div", { class: "error-box", id: "user-error", role: "alert", hidden: true });
  const inputs = { username, password, role };
  const submit = h("button", { type: "submit", class: "btn-primary" }, "Create user");
  const form = h("form", { id: "user-form", class: "panel form-grid", novalidate: true, "aria-labelledby": "user-form-title" },
    h("h2", { id: "user-form-title" }, "New user"),
    field("Username", username, "Letters, digits, '.', '-' or '_'; starts with a letter or digit."),
    h("div", { class: "field" }, h("label", { for: "user-password" }, "Password"), password, passwordRule(password),
      h("label", { class: "inline" }, show, " show")),
    field("Role", role, "What they may do; admins configure, auditors read the audit log."),
    h("div", { class: "form-actions" }, submit),
    errors);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormError(errors, inputs);
    if (password.value.length < MIN_PASSWORD) {
      showFormError(errors, new Error(`password: at least ${MIN_PASSWORD} characters`), inputs);
      return;
    }
    await busy(submit, async () => {
      try {
        const made = await api("/api/v1/users", {
          method: "POST", body: { username: username.value.trim(), password: password.value, role: role.value },
        });
        toast(`User ${made.username} (${made.role}) created`, "ok");
        form.reset();
        password.type = "password";
        password.dispatchEvent(new Event("input"));
        await load();
      } catch (err) {
        showFormError(errors, err, inputs);
      }
    });
  });
  return form;
}

// The row's own error line, so a refused change is shown where it was asked for.
const rowErrors = new Map();

async function patch(user, change, what) {
  const line = rowErrors.get(user.id);
  if (line) line.hidden = true;
  try {
    await api(`/api/v1/users/${user.id}`, { method: "PATCH", body: change });
    toast(`${user.username}: ${what}`, "ok");
    await load();
    return true;
  } catch (err) {
    if (line) {
      line.hidden = false;
      line.textContent = problems(err).map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)).join(" · ");
    } else {
      showError(err);
    }
    return false;
  }
}

const isMe = (user) => user.username === config.user?.name;

async function changeRole(user, role, button) {
  if (role === user.role) return;
  const ok = await confirmDialog({
    title: `Make ${user.username} ${role}?`,
    text: `Their role changes from ${user.role} to ${role}. This ends their sessions: they must log in again.`
      + (isMe(user) ? " This is your own account: you will be logged out and may lose administration." : ""),
    confirm: "Change role",
  });
  if (ok) await busy(button, () => patch(user, { role }, `role is now ${role}`));
}

async function toggleDisabled(user, button) {
  const disabling = !user.disabled_us;
  const ok = await confirmDialog({
    title: disabling ? `Disable ${user.username}?` : `Enable ${user.username}?`,
    text: disabling
      ? "This ends their sessions at once and stops them logging in until an administrator enables the account again."
        + (isMe(user) ? " This is your own account: you will be logged out now." : "")
      : "They will be able to log in again with their current password.",
    confirm: disabling ? "Disable and end sessions" : "Enable",
    danger: disabling,
  });
  if (ok) await busy(button, () => patch(user, { disabled: disabling }, disabling ? "disabled" : "enabled"));
}

async function setPassword(user, button) {
  const input = h("input", {
    id: "new-password", type: "password", minlength: MIN_PASSWORD, maxlength: 1000, autocomplete: "new-password", required: true,
  });
  const wrap = h("div", { class: "field" }, h("label", { for: "new-password" }, `New password for ${user.username}`),
    input, passwordRule(input));
  const ok = await confirmDialog({
    id: "password-dialog",
    title: `Set a new password for ${user.username}`,
    text: "This ends their sessions. Give them the password through a separate, safe channel.",
    confirm: "Set password",
    body: [wrap],
    onOpen: () => input.focus(),
  });
  if (!ok) return;
  if (input.value.length < MIN_PASSWORD) {
    toast(`Password not changed: at least ${MIN_PASSWORD} characters`, "error", 8000);
    return;
  }
  await busy(button, () => patch(user, { password: input.value }, "new password set"));
}

function row(user) {
  const me = isMe(user);
  const roleSelect = select(`role-${user.id}`, PERSON_ROLES, user.role, { "aria-label": `Role of ${user.username}` });
  if (!PERSON_ROLES.includes(user.role)) roleSelect.prepend(h("option", { value: user.role, selected: true }, user.role));
  const roleButton = h("button", { type: "button", class: "btn-quiet", "data-action": "role" }, "Change role");
  roleButton.addEventListener("click", () => changeRole(user, roleSelect.value, roleButton));
  const disableButton = h("button", {
    type: "button", class: user.disabled_us ? "" : "btn-danger", "data-action": user.disabled_us ? "enable" : "disable",
  }, user.disabled_us ? "Enable" : "Disable");
  disableButton.addEventListener("click", () => toggleDisabled(user, disableButton));
  const pwButton = h("button", { type: "button", "data-action": "password" }, "Set password");
  const errorLine = h("p", { class: "field-error", role: "alert", hidden: true, id: `user-${user.id}-error` });
  rowErrors.set(user.id, errorLine);
  pwButton.addEventListener("click", () => setPassword(user, pwButton));
  return h("tr", { dataset: { username: user.username, userId: user.id }, class: user.disabled_us ? "is-disabled" : "" },
    h("th", { scope: "row", "data-label": "Username" }, user.username, me ? h("span", { class: "tag" }, "you") : ""),
    h("td", { "data-label": "Role" }, h("span", { class: `role role-${user.role}` }, user.role)),
    h("td", { "data-label": "Created" }, timeCell(user.created_us)),
    h("td", { "data-label": "Created by" }, user.created_by),
    h("td", { "data-label": "Disabled" }, user.disabled_us ? timeCell(user.disabled_us) : h("span", { class: "muted" }, "no")),
    h("td", { class: "actions", "data-label": "Change" },
      h("div", { class: "row" }, roleSelect, roleButton, disableButton, pwButton), errorLine));
}

async function load() {
  const users = await api("/api/v1/users");
  users.sort((a, b) => a.username.localeCompare(b.username));
  tbody.replaceChildren(...(users.length ? users.map(row) : [emptyRow(6, "No accounts yet.")]));
  const disabled = users.filter((u) => u.disabled_us).length;
  count.textContent = `${users.length} account${users.length === 1 ? "" : "s"}${disabled ? `, ${disabled} disabled` : ""}`;
}

boot(async () => {
  mount(
    h("h1", {}, "Users"),
    h("p", { class: "muted intro" },
      "Accounts of people. Devices and scripts use API tokens instead. Every change is written to the audit log; ",
      "changing a role, disabling an account or setting a password ends that person's open sessions."),
    createForm(),
    h("section", { class: "panel", "aria-labelledby": "users-title" },
      h("div", { class: "section-head" }, h("h2", { id: "users-title" }, "Accounts"), count),
      h("div", { class: "table-wrap" },
        h("table", { id: "users", class: "admin-table cards" },
          head("Username", "Role", "Created", "Created by", "Disabled", "Change"), tbody))));
  await load();
});
