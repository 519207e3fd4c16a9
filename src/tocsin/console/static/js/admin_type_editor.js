// The editor of one alarm type: every field of the definition, the SOP as an ordered
// list of steps, and the protected-category guard's answer when it refuses or wants a
// justification. There is deliberately no way around a refusal here: the guard has no
// override, and the page says so instead of suggesting rewording.
import { ApiError, api, config, h, toast } from "./api.js";
import { busy, clearFormError, confirmDialog, field, problems, select, showFormError } from "./admin_common.js";

// The CAP 1.2 categories, as the server's model defines them (sent in the page config).
export const CATEGORIES = config.categories || [];
const PRIORITIES = [[1, "P1 — immediate"], [2, "P2 — urgent"], [3, "P3 — soon"], [4, "P4 — routine"]];
const MAX_STEPS = 50;

function sopEditor(initial) {
  const steps = [...initial];
  const list = h("ol", { class: "sop-list", id: "sop-steps", "aria-label": "SOP steps, in order" });
  const status = h("p", { class: "visually-hidden", role: "status", "aria-live": "polite" });
  const add = h("button", { type: "button", id: "sop-add" }, "+ Add step");

  const draw = (focus) => {
    list.replaceChildren(...steps.map((text, i) => {
      const input = h("textarea", {
        id: `sop-step-${i}`, rows: 2, maxlength: 500, required: true, "aria-label": `Step ${i + 1}`,
        dataset: { step: i },
      }, text);
      input.addEventListener("input", () => { steps[i] = input.value; });
      const button = (label, aria, action, disabled) => {
        const b = h("button", { type: "button", class: "btn-quiet icon", "aria-label": aria, title: aria, disabled, dataset: { sop: action } }, label);
        b.addEventListener("click", () => move(i, action));
        return b;
      };
      return h("li", { class: "sop-step" },
        h("span", { class: "sop-num", "aria-hidden": "true" }, `${i + 1}.`),
        input,
        h("div", { class: "sop-buttons" },
          button("↑", `Move step ${i + 1} up`, "up", i === 0),
          button("↓", `Move step ${i + 1} down`, "down", i === steps.length - 1),
          button("✕", `Remove step ${i + 1}`, "remove", steps.length === 1)));
    }));
    add.disabled = steps.length >= MAX_STEPS;
    if (focus) list.querySelector(focus)?.focus();
  };
  const move = (i, action) => {
    if (action === "up" && i > 0) {
      [steps[i - 1], steps[i]] = [steps[i], steps[i - 1]];
      draw(`[data-step="${i - 1}"]`);
      status.textContent = `Step moved up to ${i}.`;
    } else if (action === "down" && i < steps.length - 1) {
      [steps[i + 1], steps[i]] = [steps[i], steps[i + 1]];
      draw(`[data-step="${i + 1}"]`);
      status.textContent = `Step moved down to ${i + 2}.`;
    } else if (action === "remove" && steps.length > 1) {
      steps.splice(i, 1);
      draw(`[data-step="${Math.min(i, steps.length - 1)}"]`);
      status.textContent = `Step ${i + 1} removed.`;
    }
  };
  add.addEventListener("click", () => {
    steps.push("");
    draw(`[data-step="${steps.length - 1}"]`);
  });
  if (!steps.length) steps.push("");
  draw();
  const wrap = h("div", { class: "field field-wide", id: "sop-field" },
    h("span", { class: "label", id: "sop-label" }, `Standard operating procedure (1–${MAX_STEPS} steps, each up to 500 characters)`),
    list, h("div", { class: "row" }, add), status);
  // Errors about "sop" land beside the first step.
  return { wrap, steps: () => steps.map((s) => s.trim()), anchor: () => list.querySelector("textarea") || add };
}

function guardNotice(err, input) {
  // A refusal: the server's words, the field it names, and that there is no override.
  const list = problems(err);
  const review = list.some((p) => p.field === "justification");
  return h("div", { class: "guard-box", id: "guard-refusal", dataset: { verdict: review ? "review" : "refused" } },
    h("p", { class: "guard-title" },
      review ? "Needs review: a written justification is required"
        : "Refused by the protected-category guard"),
    h("p", {}, err.message),
    h("ul", {}, ...list.map((p) => h("li", {}, p.field ? h("code", {}, p.field) : "", p.field ? " — " : "", p.message))),
    input ? h("p", {}, h("button", { type: "button", class: "btn-quiet", onclick: () => input.focus() },
      `Go to the ${input.id.replace("type-", "")} field`)) : "",
    review
      ? h("p", { class: "small" }, "Write in the justification field why this type is needed and proportionate ",
          "(20 characters or more). It is published in the public transparency report.")
      : h("p", { class: "small" }, "There is no override. tocsin does not define alarms aimed at protests, assemblies, ",
          "petitions, religion, ethnicity, political opinion or named groups, nor biometric identification. ",
          "This refusal has been written to the audit log."));
}

function justificationField(input) {
  const wrap = field("Justification", input,
    "Required when the protected-category guard answers “review” (20 characters or more): why this type is needed " +
    "and proportionate. It is published in the public transparency report, with your change.", "field-wide justification");
  wrap.append(h("p", { class: "small" }, h("a", { href: "/transparency", target: "_blank", rel: "noopener" },
    "See the public transparency report")));
  return wrap;
}

const numOrUndefined = (input) => (input.value.trim() === "" ? undefined : Number(input.value));

// Open the editor in `host` for `type` (null: a new one). `done()` reloads the list.
export function openEditor(host, type, { done, keys }) {
  const isNew = !type;
  const t = type || { code: "", key: "", name: "", category: "Other", priority: 3, sop: [], correlation_window: 300 };
  const code = h("input", { id: "type-code", value: t.code, required: true, maxlength: 16, readonly: !isNew,
    pattern: "[A-Za-z0-9][A-Za-z0-9._\\-]*", spellcheck: "false", autocomplete: "off" });
  const key = h("input", { id: "type-key", value: t.key, required: true, maxlength: 64, readonly: !isNew,
    pattern: "[a-z0-9][a-z0-9_.\\-]*", spellcheck: "false", autocomplete: "off" });
  const name = h("input", { id: "type-name", value: t.name, required: true, maxlength: 200 });
  const category = select("type-category", CATEGORIES.includes(t.category) ? CATEGORIES : [t.category, ...CATEGORIES], t.category);
  const priority = select("type-priority", PRIORITIES, t.priority);
  const windowS = h("input", { id: "type-window", type: "number", min: 0, max: 604800, step: 1, value: t.correlation_window ?? 300 });
  const radius = h("input", { id: "type-radius", type: "number", min: 0, max: 100000, step: "any", value: t.radius_m ?? "" });
  const retention = h("input", { id: "type-retention", type: "number", min: 1, max: 36500, step: 1, value: t.retention_days ?? "" });
  const aliases = h("textarea", { id: "type-aliases", rows: 3 }, (t.aliases || []).join("\n"));
  const description = h("textarea", { id: "type-description", rows: 3, maxlength: 2000 }, t.description || "");
  const justification = h("textarea", { id: "type-justification", rows: 3, maxlength: 4000 }, t.justification || "");
  const sop = sopEditor(t.sop || []);
  const errorBox = h("div", { class: "error-box", id: "type-error", role: "alert", tabindex: -1, hidden: true });
  const inputs = { code, key, name, category, priority, correlation_window: windowS, radius_m: radius,
    retention_days: retention, aliases, description, justification };
  Object.defineProperty(inputs, "sop", { get: sop.anchor, enumerable: true });

  const save = h("button", { type: "submit", class: "btn-primary", id: "type-save" }, isNew ? "Create alarm type" : "Save changes");
  const retire = isNew ? null : h("button", { type: "button", class: "btn-danger", id: "type-retire" }, "Retire…");
  const close = h("button", { type: "button", class: "btn-quiet", id: "type-close" }, "Close");

  const form = h("form", { class: "type-form", novalidate: true, "aria-labelledby": "type-editor-title" },
    errorBox,
    h("div", { class: "form-grid" },
      field("Code", code, isNew ? "Short dictionary code, e.g. FIRE-1. Cannot change later." : "The code cannot change."),
      field("Key", key, isNew ? "Lower-case key incidents refer to, e.g. fire.smoke." : "Incidents refer to this key: to change it, retire the type and add a new one."),
      field("Name", name),
      field("Category", category),
      field("Priority", priority),
      field("Correlation window (seconds)", windowS, "Events of this type within this time join one incident."),
      field("Radius (metres)", radius, "Optional: events farther apart are separate incidents."),
      field("Retention (days)", retention, "Optional: how long incidents of this type are kept; empty = the default."),
      field("Aliases (one per line)", aliases, "Other event type names that mean this type.", "field-wide"),
      field("Description", description, "", "field-wide")),
    sop.wrap,
    justificationField(justification),
    h("div", { class: "row form-actions" }, save, retire, close));

  const body = () => {
    const out = {
      code: code.value.trim(), key: key.value.trim(), name: name.value.trim(), category: category.value,
      priority: Number(priority.value), sop: sop.steps(),
      correlation_window: numOrUndefined(windowS), radius_m: numOrUndefined(radius),
      retention_days: numOrUndefined(retention),
      aliases: aliases.value.split("\n").map((s) => s.trim()).filter(Boolean),
      description: description.value.trim() || undefined,
      justification: justification.value.trim() || undefined,
    };
    for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
    return out;
  };

  const fail = (err) => {
    const guard = err instanceof ApiError && err.body.error === "guard_refused";
    const first = showFormError(errorBox, err, inputs, { focus: !guard });
    if (guard) {
      // The guard's answer replaces the generic summary: the same facts, said once, plainly,
      // at the top of the form; the fields it names are marked where they are.
      errorBox.replaceChildren(guardNotice(err, first));
      errorBox.scrollIntoView({ block: "start" });
      errorBox.focus({ preventScroll: true });
    } else if (!first) {
      errorBox.scrollIntoView({ block: "nearest" });
    }
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFormError(errorBox, inputs);
    const data = body();
    const empty = data.sop.findIndex((s) => !s);
    if (empty >= 0) {
      fail(new Error(`sop: step ${empty + 1} is empty; write it or remove it`));
      return;
    }
    if (isNew && keys.has(data.key)) {
      fail(new Error(`key: an alarm type with key ${data.key} already exists`));
      return;
    }
    await busy(save, async () => {
      try {
        const saved = isNew
          ? await api("/api/v1/alarm-types", { method: "POST", body: data })
          : await api(`/api/v1/alarm-types/${encodeURIComponent(t.code)}`, { method: "PUT", body: data });
        toast(`Alarm type ${saved.code} ${isNew ? "created" : "saved"}`, "ok");
        await done(saved.code);
      } catch (err) {
        fail(err);
      }
    });
  });

  retire?.addEventListener("click", async () => {
    const reason = h("textarea", { id: "retire-reason", rows: 3, maxlength: 2000, required: true });
    const ok = await confirmDialog({
      id: "retire-dialog",
      title: `Retire ${t.code} (${t.key})?`,
      text: "New events of this type will become unclassified; incidents already opened keep it. The reason is recorded.",
      confirm: "Retire",
      danger: true,
      body: [h("div", { class: "field" }, h("label", { for: "retire-reason" }, "Reason"), reason)],
      onOpen: () => reason.focus(),
    });
    if (!ok) return;
    clearFormError(errorBox, inputs);
    if (reason.value.trim().length < 3) {
      fail(new Error("reason: say why the type is retired"));
      return;
    }
    await busy(retire, async () => {
      try {
        await api(`/api/v1/alarm-types/${encodeURIComponent(t.code)}?reason=${encodeURIComponent(reason.value.trim())}`,
          { method: "DELETE" });
        toast(`Alarm type ${t.code} retired`, "ok");
        await done(null);
      } catch (err) {
        fail(err);
      }
    });
  });
  close.addEventListener("click", () => done(undefined));

  host.hidden = false;
  host.dataset.code = t.code;
  host.dataset.mode = isNew ? "new" : "edit";
  host.replaceChildren(
    h("div", { class: "section-head" },
      h("h2", { id: "type-editor-title", tabindex: -1 }, isNew ? "New alarm type" : `${t.code} · ${t.name}`),
      isNew ? "" : h("span", { class: "muted small" }, `key ${t.key}`)),
    form);
  host.scrollIntoView({ block: "start" });
  host.querySelector("#type-editor-title").focus({ preventScroll: true });
}
