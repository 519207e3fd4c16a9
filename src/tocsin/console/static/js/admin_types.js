// /console/admin/alarm-types: the alarm-type dictionary (searchable), the editor of one
// type (admin_type_editor.js), and the vendor-code mappings with the codes still waiting
// for one. Every definition and mapping goes through the protected-category guard on
// the server; this page shows its answer and offers no way around it.
import { api, h, mount, priorityBadge, problemText, showError, toast } from "./api.js";
import { boot, busy, emptyRow, head } from "./admin_common.js";
import { openEditor } from "./admin_type_editor.js";

let types = [];
const tbody = h("tbody", {});
const count = h("span", { class: "muted small", id: "types-count", role: "status" });
const search = h("input", { id: "type-search", type: "search", placeholder: "code, key, name, category, alias…",
  autocomplete: "off", spellcheck: "false" });
const editor = h("section", { id: "type-editor", class: "panel editor", hidden: true, "aria-labelledby": "type-editor-title" });
const mappingsHost = h("section", { id: "mappings", class: "panel", "aria-labelledby": "mappings-title" });

function matches(type, words) {
  const hay = [type.code, type.key, type.name, type.category, `p${type.priority}`, ...(type.aliases || [])]
    .join(" ").toLowerCase();
  return words.every((w) => hay.includes(w));
}

function markSelectedRow(code) {
  for (const tr of tbody.querySelectorAll("tr[data-code]")) {
    tr.setAttribute("aria-selected", String(tr.dataset.code === code));
  }
}

function edit(type) {
  markSelectedRow(type?.code ?? "");
  openEditor(editor, type, { done: afterEdit, keys: new Set(types.map((t) => t.key)) });
}

async function afterEdit(code) {
  if (code === undefined) {
    editor.hidden = true;
    editor.replaceChildren();
    markSelectedRow("");
    return;
  }
  await load();
  const saved = code && types.find((t) => t.code === code);
  if (saved) edit(saved);
  else afterEdit(undefined);
}

function row(type) {
  const open = h("button", { type: "button", class: "linklike", "aria-label": `Edit ${type.code} ${type.name}` }, type.code);
  open.addEventListener("click", () => edit(type));
  const tr = h("tr", { dataset: { code: type.code, key: type.key }, "aria-selected": String(editor.dataset.code === type.code && !editor.hidden) },
    h("th", { scope: "row", "data-label": "Code" }, open),
    h("td", { "data-label": "Key" }, h("code", {}, type.key)),
    h("td", { "data-label": "Name" }, type.name,
      type.justification ? h("span", { class: "tag tag-review", title: "has a published justification" }, "justified") : ""),
    h("td", { "data-label": "Category" }, type.category),
    h("td", { "data-label": "Priority" }, priorityBadge(type.priority)),
    h("td", { class: "num", "data-label": "SOP steps" }, (type.sop || []).length),
    h("td", { class: "num", "data-label": "Retention" }, type.retention_days ? `${type.retention_days} d` : h("span", { class: "muted" }, "default")));
  tr.addEventListener("dblclick", () => edit(type));
  return tr;
}

function draw() {
  const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
  const shown = types.filter((t) => matches(t, words));
  tbody.replaceChildren(...(shown.length ? shown.map(row)
    : [emptyRow(7, words.length ? "No alarm type matches the search." : "The dictionary is empty.")]));
  count.textContent = words.length ? `${shown.length} of ${types.length} types` : `${types.length} types`;
}

async function load() {
  types = await api("/api/v1/alarm-types");
  types.sort((a, b) => a.code.localeCompare(b.code, undefined, { numeric: true }));
  draw();
}

// -- vendor-code mappings ----------------------------------------------------------

function keyPicker(id, label) {
  const picker = h("select", { id, "aria-label": label },
    h("option", { value: "" }, "— choose an alarm type —"),
    ...types.map((t) => h("option", { value: t.key }, `${t.code} · ${t.name} (${t.key})`)));
  return picker;
}

function waitingRow(item, index) {
  const picker = keyPicker(`map-${index}`, `Alarm type for vendor code ${item.vendor_code}`);
  const error = h("p", { class: "field-error", role: "alert", hidden: true });
  const button = h("button", { type: "button", class: "btn-primary", "data-action": "map" }, "Map");
  button.addEventListener("click", async () => {
    error.hidden = true;
    if (!picker.value) {
      error.hidden = false;
      error.textContent = "Choose the alarm type this code means.";
      picker.focus();
      return;
    }
    await busy(button, async () => {
      try {
        await api(`/api/v1/mappings/${encodeURIComponent(item.vendor_code)}`, { method: "PUT", body: { alarm_type: picker.value } });
        toast(`${item.vendor_code} now means ${picker.value}; the next events classify as it`, "ok");
        await loadMappings();
      } catch (err) {
        error.hidden = false;
        error.textContent = problemText(err);
      }
    });
  });
  return h("tr", { dataset: { vendorCode: item.vendor_code } },
    h("th", { scope: "row", "data-label": "Vendor code" }, h("code", {}, item.vendor_code)),
    h("td", { class: "num", "data-label": "Unclassified incidents" }, item.incidents),
    h("td", { "data-label": "Map to" }, h("div", { class: "row" }, picker, button), error));
}

async function loadMappings() {
  const table = await api("/api/v1/mappings");
  const filter = h("input", { id: "mapping-filter", type: "search", placeholder: "filter codes or keys", autocomplete: "off" });
  const mappedBody = h("tbody", {});
  const drawMapped = () => {
    const q = filter.value.trim().toLowerCase();
    const rows = table.mappings.filter((m) => !q || `${m.vendor_code} ${m.alarm_type}`.toLowerCase().includes(q));
    mappedBody.replaceChildren(...(rows.length ? rows.slice(0, 500).map((m) => h("tr", { dataset: { vendorCode: m.vendor_code } },
      h("th", { scope: "row", "data-label": "Vendor code" }, h("code", {}, m.vendor_code)),
      h("td", { "data-label": "Alarm type" }, h("code", {}, m.alarm_type)),
      h("td", { "data-label": "Source" }, m.source))) : [emptyRow(3, "No mapping matches.")]));
  };
  filter.addEventListener("input", drawMapped);
  drawMapped();
  mappingsHost.replaceChildren(
    h("h2", { id: "mappings-title" }, "Vendor-code mappings"),
    h("p", { class: "muted small" },
      "Codes from equipment that no mapping names open “unclassified” incidents. Map each to the alarm type it means; ",
      "mappings go through the same guard as definitions."),
    h("h3", {}, `Waiting for a mapping (${table.unmapped.length})`),
    h("div", { class: "table-wrap" },
      h("table", { id: "unmapped", class: "admin-table cards" },
        head("Vendor code", ["Unclassified incidents", "num"], "Map to"),
        h("tbody", {}, ...(table.unmapped.length ? table.unmapped.map(waitingRow)
          : [emptyRow(3, "Nothing is waiting: every vendor code seen so far is mapped.")])))),
    h("details", { class: "mapped" },
      h("summary", {}, `Mapped codes (${table.mappings.length})`),
      h("div", { class: "toolbar" }, h("label", { for: "mapping-filter" }, "Filter"), filter),
      h("div", { class: "table-wrap" },
        h("table", { id: "mapped", class: "admin-table cards" }, head("Vendor code", "Alarm type", "Source"), mappedBody)),
      table.mappings.length > 500 ? h("p", { class: "muted small" }, "Showing the first 500 matches; filter to narrow.") : ""));
}

boot(async () => {
  const create = h("button", { type: "button", class: "btn-primary", id: "type-new" }, "+ New alarm type");
  create.addEventListener("click", () => edit(null));
  search.addEventListener("input", draw);
  mount(
    h("h1", {}, "Alarm types"),
    h("p", { class: "muted intro" },
      "The coded dictionary every event is classified by. Definitions pass the protected-category guard: ",
      "types aimed at protests, assemblies, petitions, religion, ethnicity, political opinion, named groups or ",
      "biometric identification are refused, with no override; some need a published justification."),
    h("div", { class: "toolbar" },
      h("div", {}, h("label", { for: "type-search" }, "Search"), search), create, count),
    editor,
    h("section", { class: "panel", "aria-label": "Alarm-type dictionary" },
      h("div", { class: "table-wrap" },
        h("table", { id: "alarm-types", class: "admin-table cards" },
          head("Code", "Key", "Name", "Category", "Priority", ["SOP steps", "num"], ["Retention", "num"]), tbody))),
    mappingsHost);
  await load();
  await loadMappings().catch((err) => {
    mappingsHost.replaceChildren(h("h2", { id: "mappings-title" }, "Vendor-code mappings"),
      h("p", { class: "error", role: "alert" }, `Could not load the mappings: ${err.message}`));
    showError(err);
  });
});
