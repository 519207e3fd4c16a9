// /console/audit (auditors): the latest signed checkpoint, the records page by page, and
// an inclusion check of any record against the checkpoint, computed in this browser.
// Reading records or proofs is itself recorded in the log, with the purpose chosen here.
// We never say "verified" unless the hashes were computed here and matched.
import { api, config, fmtTime, h, mount, showError, toast } from "./api.js";
import { boot, busy, emptyRow, head, select } from "./admin_common.js";
import {
  b64ToBytes, cryptoAvailable, equalBytes, parseCheckpoint, recordLeaf, toHex, verifyCheckpointSignature, verifyInclusion,
} from "./audit_verify.js";

const KEY_STORE = "tocsin.audit.verifierKey";
const state = { checkpoint: null, signature: null, start: 0, size: 0, next: null, records: [] };

const checkpointBox = h("section", { id: "checkpoint", class: "panel", "aria-labelledby": "checkpoint-title" });
const tbody = h("tbody", {});
const pageInfo = h("span", { id: "audit-page", class: "muted small", role: "status" });
const purpose = select("audit-purpose", (config.purposes || ["audit"]).map((p) => [p, p.replaceAll("_", " ")]), "audit");
const caseNo = h("input", { id: "audit-case", maxlength: 100, autocomplete: "off", size: 12 });
const filters = {
  actor: h("input", { id: "filter-actor", type: "search", autocomplete: "off", size: 12 }),
  action: h("input", { id: "filter-action", type: "search", autocomplete: "off", size: 14 }),
  operation: h("select", { id: "filter-operation" }),
  outcome: h("select", { id: "filter-outcome" }),
};
const nav = {
  first: h("button", { type: "button", id: "audit-first" }, "⇤ First"),
  prev: h("button", { type: "button", id: "audit-prev" }, "← Previous"),
  next: h("button", { type: "button", id: "audit-next" }, "Next →"),
  latest: h("button", { type: "button", id: "audit-latest", class: "btn-primary" }, "Latest ⇥"),
};
const limitSelect = select("audit-limit", [50, 100, 200, 500], 100);

function justificationHeaders() {
  const headers = { "X-Justification": purpose.value };
  if (caseNo.value.trim()) headers["X-Case-Number"] = caseNo.value.trim();
  return headers;
}

// -- the checkpoint ----------------------------------------------------------------

async function fetchCheckpoint() {
  // Plain text, public: not through api(), which expects JSON.
  const response = await fetch("/api/v1/audit/checkpoint", { credentials: "same-origin", headers: { Accept: "text/plain" } });
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`checkpoint: HTTP ${response.status}`);
  return parseCheckpoint(await response.text());
}

function signatureStatus() {
  const s = state.signature;
  if (!s) return h("p", { id: "checkpoint-signature", class: "muted", dataset: { status: "unchecked" } },
    "Signature not checked in this browser. Give the log's verifier key to check it.");
  return h("p", { id: "checkpoint-signature", class: s.ok ? "ok" : "error", dataset: { status: s.ok ? "valid" : "invalid" } },
    s.ok ? `✓ Signature valid: signed by ${s.name} (key ${s.keyId}).` : `✗ ${s.error}`);
}

function drawCheckpoint() {
  const cp = state.checkpoint;
  const reload = h("button", { type: "button", id: "checkpoint-reload" }, "Reload checkpoint");
  reload.addEventListener("click", () => busy(reload, loadCheckpoint).catch(showError));
  if (!cp) {
    checkpointBox.replaceChildren(h("h2", { id: "checkpoint-title" }, "Signed checkpoint"),
      h("p", { class: "muted" }, "No checkpoint has been signed yet; records cannot be checked until one is."), reload);
    return;
  }
  const keyInput = h("input", { id: "verifier-key", class: "mono", spellcheck: "false", autocomplete: "off",
    placeholder: "name+keyid+base64key", value: localStorage.getItem(KEY_STORE) || "" });
  const check = h("button", { type: "button", id: "checkpoint-check" }, "Check signature");
  check.addEventListener("click", () => busy(check, async () => {
    try {
      const who = await verifyCheckpointSignature(cp, keyInput.value);
      localStorage.setItem(KEY_STORE, keyInput.value.trim());
      state.signature = { ok: true, ...who };
    } catch (err) {
      state.signature = { ok: false, error: err.message };
    }
    drawCheckpoint();
  }));
  checkpointBox.replaceChildren(
    h("div", { class: "section-head" }, h("h2", { id: "checkpoint-title" }, "Latest signed checkpoint"), reload),
    h("dl", { class: "facts" },
      h("dt", {}, "Origin"), h("dd", { id: "checkpoint-origin" }, h("code", {}, cp.origin)),
      h("dt", {}, "Tree size"), h("dd", { id: "checkpoint-size" }, `${cp.size.toLocaleString()} records (seq 0–${cp.size - 1})`),
      h("dt", {}, "Root hash"), h("dd", { id: "checkpoint-root" }, h("code", { class: "hash" }, cp.rootText),
        h("br", {}), h("code", { class: "hash muted small" }, `hex ${toHex(cp.root)}`))),
    h("details", {}, h("summary", {}, `Signed note (${cp.signatures.length} signature line${cp.signatures.length === 1 ? "" : "s"})`),
      h("pre", { class: "note", id: "checkpoint-note" }, cp.note)),
    h("div", { class: "field" }, h("label", { for: "verifier-key" }, "Verifier key (from `tocsin audit pubkey`, obtained out of band)"),
      h("div", { class: "secret-row" }, keyInput, check)),
    signatureStatus());
}

async function loadCheckpoint() {
  const before = state.checkpoint?.size;
  state.checkpoint = await fetchCheckpoint();
  if (state.checkpoint?.size !== before) state.signature = null;
  drawCheckpoint();
  // Proof results were for the old checkpoint.
  tbody.querySelectorAll("tr.verify-row").forEach((tr) => tr.remove());
}

// -- records -------------------------------------------------------------------------

function describeObjects(objects = {}) {
  return Object.entries(objects).map(([kind, ids]) =>
    `${kind} ${ids.map((id) => (Array.isArray(id) ? `${id[0]}–${id[1]}` : id)).join(", ")}`).join("; ");
}

function justificationCell(j) {
  if (!j) return h("span", { class: "muted" }, "—");
  return h("span", {}, h("span", { class: "tag" }, j.purpose.replaceAll("_", " ")),
    j.text ? ` ${j.text}` : "", j.case ? h("span", { class: "muted small" }, ` case ${j.case}`) : "");
}

function detailText(record) {
  const rest = { ...(record.detail || {}) };
  if (record.recipient) rest.recipient = record.recipient;
  return Object.keys(rest).length ? Object.entries(rest).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : v}`).join(" · ") : "";
}

function row(record) {
  const outcome = record.outcome || "ok";
  const verify = h("button", { type: "button", class: "btn-quiet", "data-action": "verify",
    "aria-label": `Verify inclusion of record ${record.seq}` }, "Verify");
  verify.addEventListener("click", () => busy(verify, () => verifyRecord(record)));
  const detail = detailText(record);
  return h("tr", { dataset: { seq: record.seq, outcome, operation: record.operation } },
    h("th", { scope: "row", class: "num", "data-label": "Seq" }, record.seq),
    h("td", { "data-label": "Time" }, h("time", { datetime: record.at, title: record.at }, fmtTime(record.at))),
    h("td", { "data-label": "Actor" }, record.actor),
    h("td", { "data-label": "Role" }, record.role),
    h("td", { "data-label": "Operation" }, record.operation),
    h("td", { "data-label": "Action" }, h("code", {}, record.action), detail ? h("div", { class: "muted small" }, detail) : ""),
    h("td", { "data-label": "Objects", class: "small" }, describeObjects(record.objects)),
    h("td", { "data-label": "Justification" }, justificationCell(record.justification)),
    h("td", { "data-label": "Outcome" }, h("span", { class: `outcome outcome-${outcome}` }, outcome)),
    h("td", { class: "actions", "data-label": "" }, verify));
}

function fillSelect(sel, values) {
  const current = sel.value;
  sel.replaceChildren(h("option", { value: "" }, "any"), ...[...values].sort().map((v) => h("option", { value: v }, v)));
  sel.value = values.has(current) ? current : "";
}

function draw() {
  const f = {
    actor: filters.actor.value.trim().toLowerCase(),
    action: filters.action.value.trim().toLowerCase(),
    operation: filters.operation.value,
    outcome: filters.outcome.value,
  };
  const shown = state.records.filter((r) => (!f.actor || r.actor.toLowerCase().includes(f.actor))
    && (!f.action || r.action.toLowerCase().includes(f.action))
    && (!f.operation || r.operation === f.operation)
    && (!f.outcome || (r.outcome || "ok") === f.outcome));
  tbody.replaceChildren(...(shown.length ? shown.map(row)
    : [emptyRow(10, state.records.length ? "No record on this page matches the filters." : "No records.")]));
  const last = state.start + state.records.length - 1;
  pageInfo.textContent = state.records.length
    ? `Records ${state.start}–${last} of ${state.size}${shown.length !== state.records.length ? ` · ${shown.length} match the filters` : ""}`
    : `No records from ${state.start} (the log holds ${state.size})`;
  nav.first.disabled = nav.prev.disabled = state.start === 0;
  nav.next.disabled = state.next === null;
}

async function loadPage(start) {
  const limit = Number(limitSelect.value);
  const page = await api(`/api/v1/audit/records?start=${Math.max(0, start)}&limit=${limit}`, { headers: justificationHeaders() });
  Object.assign(state, { start: Math.max(0, start), size: page.size, next: page.next, records: page.records });
  fillSelect(filters.operation, new Set(page.records.map((r) => r.operation)));
  fillSelect(filters.outcome, new Set(page.records.map((r) => r.outcome || "ok")));
  draw();
}

async function loadLatest() {
  const limit = Number(limitSelect.value);
  // Start from what the checkpoint says; one more read if the log has grown past a page.
  await loadPage(Math.max(0, (state.size || state.checkpoint?.size || 0) - limit));
  if (state.next !== null) await loadPage(state.size - limit);
}

// -- inclusion -----------------------------------------------------------------------

function verifyRow(seq, status, title, ...lines) {
  const id = `verify-${seq}`;
  document.getElementById(id)?.remove();
  const tr = h("tr", { class: `verify-row verify-${status}`, id, dataset: { verifySeq: seq, verifyStatus: status } },
    h("td", { colspan: 10 }, h("div", { class: "verify-box", role: "status" },
      h("p", { class: "verify-title" }, title), ...lines)));
  const anchor = tbody.querySelector(`tr[data-seq="${seq}"]`);
  anchor?.after(tr);
  return tr;
}

async function verifyRecord(record) {
  const cp = state.checkpoint;
  const seq = record.seq;
  if (!cryptoAvailable()) {
    verifyRow(seq, "unavailable", "Cannot verify here",
      h("p", {}, "This page is not in a secure context (HTTPS), so the browser offers no WebCrypto. Use `tocsin audit verify`."));
    return;
  }
  if (!cp || seq >= cp.size) {
    const retry = h("button", { type: "button", class: "btn-quiet" }, "Reload the checkpoint and try again");
    retry.addEventListener("click", () => busy(retry, async () => {
      await loadCheckpoint();
      await verifyRecord(record);
    }).catch(showError));
    verifyRow(seq, "unsigned", "Not in the latest checkpoint yet",
      h("p", {}, cp ? `Record ${seq} was written after the checkpoint of ${cp.size} records was signed; `
        + "the server signs a new one shortly after the log grows." : "No checkpoint has been signed yet."), retry);
    return;
  }
  verifyRow(seq, "pending", "Checking…");
  let proof;
  try {
    proof = await api(`/api/v1/audit/proof/inclusion?index=${seq}&size=${cp.size}`, { headers: justificationHeaders() });
  } catch (err) {
    verifyRow(seq, "error", "Could not fetch the proof", h("p", {}, err.message));
    showError(err);
    return;
  }
  const serverLeaf = b64ToBytes(proof.leaf_hash);
  const mine = await recordLeaf(record);
  const sameLeaf = equalBytes(mine.hash, serverLeaf);
  const leafLine = sameLeaf
    ? h("li", { class: "ok" }, `✓ The record as shown re-encodes to leaf hash ${toHex(mine.hash)}, the hash the server proves.`)
    : h("li", { class: "error" }, `✗ The record as shown re-encodes to ${toHex(mine.hash)}, but the server's leaf ${seq} is `
      + `${toHex(serverLeaf)}. (A float such as 1.0 loses its “.0” on its way to the browser; otherwise the record differs.)`);
  const bytes = h("details", {}, h("summary", {}, "Leaf bytes hashed here (canonical JSON)"), h("pre", { class: "note" }, mine.text));
  const sig = state.signature?.ok
    ? h("li", { class: "ok" }, `✓ The checkpoint's signature by ${state.signature.name} was checked in this browser.`)
    : h("li", { class: "muted" }, "The checkpoint's signature was not checked here (give the verifier key above): "
      + "this shows inclusion under the root the server served, not that the root is the one the log signed.");
  try {
    await verifyInclusion(sameLeaf ? mine.hash : serverLeaf, seq, cp.size, proof.proof.map(b64ToBytes), cp.root);
  } catch (err) {
    verifyRow(seq, "failed", `✗ NOT verified: ${err.message}`,
      h("ul", {}, leafLine, h("li", { class: "error" }, `Proof of ${proof.proof.length} hashes for leaf ${seq} of ${cp.size} fails against root ${cp.rootText}.`)), bytes);
    toast(`Record ${seq}: inclusion proof FAILED`, "error", 12000);
    return;
  }
  const proofLine = h("li", { class: "ok" },
    `✓ ${proof.proof.length} proof hashes lead from leaf ${seq} to the checkpoint root ${cp.rootText} (tree of ${cp.size}).`);
  if (sameLeaf) {
    verifyRow(seq, "verified", `✓ Inclusion verified: record ${seq} is in the checkpoint's tree of ${cp.size} records`
      + (state.signature?.ok ? " (signature checked)" : ""),
      h("ul", {}, leafLine, proofLine, sig), bytes);
  } else {
    verifyRow(seq, "partial", `Only partly verified: the server's leaf ${seq} is in the tree, but this page could not show it is this record`,
      h("ul", {}, leafLine, proofLine, sig), bytes);
  }
}

// -- page ------------------------------------------------------------------------------

boot(async () => {
  nav.first.addEventListener("click", () => busy(nav.first, () => loadPage(0)).catch(showError));
  nav.prev.addEventListener("click", () => busy(nav.prev, () => loadPage(state.start - Number(limitSelect.value))).catch(showError));
  nav.next.addEventListener("click", () => busy(nav.next, () => loadPage(state.next ?? state.start)).catch(showError));
  nav.latest.addEventListener("click", () => busy(nav.latest, loadLatest).catch(showError));
  limitSelect.addEventListener("change", () => loadPage(state.start).catch(showError));
  for (const input of Object.values(filters)) input.addEventListener("input", draw);
  const filterField = (label, input) => h("div", {}, h("label", { for: input.id }, label), input);
  mount(
    h("h1", {}, "Audit log"),
    h("p", { class: "muted intro" },
      "Every processing operation, append-only, in an RFC 6962 Merkle tree whose root the server signs. ",
      "Your reading of records and proofs is itself recorded, with the purpose below. ",
      h("a", { href: "/transparency", id: "transparency-link" }, "Public transparency report"), "."),
    checkpointBox,
    h("section", { class: "panel", "aria-labelledby": "records-title" },
      h("div", { class: "section-head" }, h("h2", { id: "records-title" }, "Records"), pageInfo),
      h("div", { class: "toolbar" },
        filterField("Purpose of this review", purpose), filterField("Case number", caseNo),
        filterField("Page size", limitSelect)),
      h("div", { class: "toolbar", role: "group", "aria-label": "Filter this page" },
        filterField("Actor", filters.actor), filterField("Action", filters.action),
        filterField("Operation", filters.operation), filterField("Outcome", filters.outcome),
        h("span", { class: "muted small" }, "Filters apply to the loaded page.")),
      h("nav", { class: "row pager", "aria-label": "Pages of records" }, nav.first, nav.prev, nav.next, nav.latest),
      h("div", { class: "table-wrap" },
        h("table", { id: "audit-records", class: "admin-table cards" },
          head(["Seq", "num"], "Time", "Actor", "Role", "Operation", "Action", "Objects", "Justification", "Outcome", ["", "actions"]),
          tbody))));
  try {
    await loadCheckpoint();
  } catch (err) {
    checkpointBox.replaceChildren(h("h2", { id: "checkpoint-title" }, "Signed checkpoint"),
      h("p", { class: "error", role: "alert" }, `Could not load the checkpoint: ${err.message}`));
    showError(err);
  }
  await loadLatest();
});
