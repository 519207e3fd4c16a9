// /console/admin/webhooks: read-only. Webhooks are configured in the TOML file
// ([[webhook]] tables) and reviewed like code, so this page only shows them and how their
// deliveries are going; the server has already removed credentials and query strings.
import { api, h, mount, priorityBadge } from "./api.js";
import { boot, emptyRow, head } from "./admin_common.js";

function row(hook) {
  const health = hook.health || {};
  return h("tr", { dataset: { webhook: hook.name } },
    h("th", { scope: "row", "data-label": "Name" }, hook.name),
    h("td", { "data-label": "URL" }, h("code", { class: "url" }, hook.url)),
    h("td", { "data-label": "Min. priority" }, priorityBadge(hook.min_priority), h("span", { class: "muted small" }, " and higher")),
    h("td", { "data-label": "Drills" }, hook.include_exercise ? "included" : h("span", { class: "muted" }, "not sent")),
    h("td", { class: "num", "data-label": "Attempts" }, hook.max_attempts),
    h("td", { class: "num", "data-label": "Pending" }, health.pending ?? 0),
    h("td", { class: "num", "data-label": "Delivered" }, health.delivered ?? 0),
    h("td", { class: `num${health.dead ? " bad" : ""}`, "data-label": "Dead" }, health.dead ?? 0),
    h("td", { "data-label": "Last error", class: health.last_error ? "error small" : "muted" }, health.last_error || "none"));
}

boot(async () => {
  const tbody = h("tbody", {});
  mount(
    h("h1", {}, "Webhooks"),
    h("div", { class: "panel note", id: "webhooks-note" },
      h("p", {}, h("strong", {}, "Read-only here. "),
        "Webhooks are configured in tocsin's TOML configuration file as ", h("code", {}, "[[webhook]]"),
        " tables and reviewed like code: a change goes through the same review and deployment as any other ",
        "configuration change, so where alarm data is sent is never a click away."),
      h("p", { class: "muted small" },
        "URLs are shown without credentials or query strings. “Dead” deliveries used up their attempts; ",
        "see the server log for details.")),
    h("section", { class: "panel", "aria-labelledby": "webhooks-title" },
      h("h2", { id: "webhooks-title" }, "Configured webhooks"),
      h("div", { class: "table-wrap" },
        h("table", { id: "webhooks", class: "admin-table cards" },
          head("Name", "URL", "Min. priority", "Drills", ["Attempts", "num"], ["Pending", "num"],
            ["Delivered", "num"], ["Dead", "num"], "Last error"),
          tbody))));
  const hooks = await api("/api/v1/webhooks");
  tbody.replaceChildren(...(hooks.length ? hooks.map(row)
    : [emptyRow(9, "No webhooks are configured.")]));
});
