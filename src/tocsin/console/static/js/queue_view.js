// The queue table, virtualised: only the rows in (and just around) the visible window
// exist in the DOM, between two spacer rows that give the scrollbar its true length.
// Rows have a fixed height (CSS --qrow-h, measured once rendered), are reused while their
// incident is unchanged, and the ages tick by rewriting one text node per visible row.

import { config, fmtAge, h, priorityBadge, stateBadge } from "./api.js";

const OVERSCAN = 8;
const COLUMNS = [
  ["P", "col-prio", "Priority"],
  ["Incident", "col-title", "Title and alarm type"],
  ["Site", "col-site hide-narrow", "Site"],
  ["State", "col-state", "Handling state"],
  ["Condition", "col-cond hide-narrow", "Condition"],
  ["Events", "col-events num hide-narrow", "Events in this incident"],
  ["Age", "col-age num", "Time since the first event"],
  ["Assignee", "col-assignee hide-narrow", "Who holds it"],
  ["Exercise", "col-ex hide-narrow", "Exercise"],
];

export class QueueTable {
  constructor({ model, onOpen, onAcknowledge }) {
    this.model = model;
    this.onOpen = onOpen;
    this.onAcknowledge = onAcknowledge;
    this.canAct = Boolean(config.can?.act);
    this.selectedId = null;
    this.flashing = new Set();
    this.rows = new Map(); // id -> <tr> currently in the DOM
    this.order = []; // ids in the DOM, in order, to skip no-op DOM moves
    this.rowH = 0;
    this.scheduled = false;
    const cols = this.canAct ? [...COLUMNS, ["", "col-act hide-narrow", "Actions"]] : COLUMNS;
    this.colspan = cols.length;
    this.topSpacer = h("tr", { class: "spacer", "aria-hidden": "true" }, h("td", { colspan: this.colspan }));
    this.bottomSpacer = h("tr", { class: "spacer", "aria-hidden": "true" }, h("td", { colspan: this.colspan }));
    this.tbody = h("tbody", {}, this.topSpacer, this.bottomSpacer);
    this.table = h("table", { id: "queue", class: "queue", role: "grid", "aria-label": "Open incidents",
      "aria-rowcount": 1 },
    h("thead", {}, h("tr", { "aria-rowindex": 1 },
      ...cols.map(([label, cls, title]) => h("th", { class: cls, scope: "col", title }, label)))),
    this.tbody);
    this.empty = h("p", { class: "queue-empty", hidden: true });
    this.scroller = h("div", { class: "qscroll", id: "queue-scroll" }, this.table, this.empty);
    this.scroller.addEventListener("scroll", () => this.schedule(), { passive: true });
    window.addEventListener("resize", () => { this.rowH = 0; this.headH = 0; this.schedule(); });
    this.tbody.addEventListener("click", (event) => this.clicked(event));
    setInterval(() => this.tick(), 1000);
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => { this.scheduled = false; this.render(); });
  }

  rowHeight() {
    if (!this.rowH) {
      // spacer cells must span only the shown columns: a colspan over columns hidden on a
      // phone makes the fixed table layout hand their width to nobody
      const shownCols = [...this.table.tHead.rows[0].cells].filter((th) => getComputedStyle(th).display !== "none").length;
      for (const spacer of [this.topSpacer, this.bottomSpacer]) spacer.firstChild.colSpan = shownCols || this.colspan;
      const css = parseFloat(getComputedStyle(this.scroller).getPropertyValue("--qrow-h"));
      this.rowH = css > 0 ? css : 38;
    }
    return this.rowH;
  }

  render() {
    const view = this.model.view;
    const n = view.length;
    const rh = this.rowHeight();
    const headH = this.headHeight();
    const top = Math.max(0, this.scroller.scrollTop - headH);
    const height = this.scroller.clientHeight || 600;
    const start = Math.max(0, Math.floor(top / rh) - OVERSCAN);
    const end = Math.min(n, Math.ceil((top + height) / rh) + OVERSCAN);
    const ids = [];
    const keep = new Map();
    for (let i = start; i < end; i++) {
      const item = view[i];
      let tr = this.rows.get(item.id);
      if (!tr) tr = this.buildRow(item);
      else if (tr._item !== item) this.fillRow(tr, item);
      tr.setAttribute("aria-rowindex", String(i + 2));
      this.decorate(tr, item);
      keep.set(item.id, tr);
      ids.push(item.id);
    }
    this.rows = keep;
    this.topSpacer.firstChild.style.height = `${start * rh}px`;
    this.bottomSpacer.firstChild.style.height = `${(n - end) * rh}px`;
    this.topSpacer.hidden = start === 0;
    this.bottomSpacer.hidden = end >= n;
    if (ids.length !== this.order.length || ids.some((id, i) => id !== this.order[i])) {
      this.reconcile(ids, keep);
      this.order = ids;
    }
    this.table.setAttribute("aria-rowcount", String(n + 1));
    this.showEmpty(n);
    this.calibrate();
  }

  // Move the DOM to `ids` with as few node moves as possible: scrolling by a row removes
  // one row and adds one, instead of re-inserting the whole window (which costs a relayout).
  reconcile(ids, keep) {
    for (const tr of [...this.tbody.rows]) {
      if (tr.classList.contains("qrow") && keep.get(Number(tr.dataset.incidentId)) !== tr) tr.remove();
    }
    let cursor = this.topSpacer.nextSibling;
    for (const id of ids) {
      const tr = keep.get(id);
      if (cursor === tr) cursor = cursor.nextSibling;
      else this.tbody.insertBefore(tr, cursor);
    }
    while (cursor && cursor !== this.bottomSpacer) {
      const next = cursor.nextSibling;
      cursor.remove();
      cursor = next;
    }
  }

  headHeight() {
    if (!this.headH) this.headH = this.table.tHead.offsetHeight || this.rowHeight();
    return this.headH;
  }

  // The CSS says how tall a row is; if the browser disagrees (fonts, zoom), trust the browser.
  calibrate() {
    const first = this.order.length ? this.rows.get(this.order[0]) : null;
    if (!first) return;
    const real = first.getBoundingClientRect().height;
    if (real > 0 && Math.abs(real - this.rowH) > 0.5) {
      this.rowH = real;
      this.schedule();
    }
  }

  showEmpty(n) {
    this.empty.hidden = n > 0;
    if (n > 0) return;
    const filtered = this.model.filtering() && this.model.byId.size > 0;
    this.empty.textContent = filtered
      ? `No open incident matches the filters (${this.model.byId.size} hidden by them).`
      : "No open incidents. New alarms appear here as they arrive.";
  }

  decorate(tr, item) {
    const selected = item.id === this.selectedId;
    if ((tr.getAttribute("aria-selected") === "true") !== selected) tr.setAttribute("aria-selected", String(selected));
    tr.classList.toggle("flash", this.flashing.has(item.id));
  }

  buildRow(item) {
    const tr = h("tr", { class: "qrow", dataset: { incidentId: String(item.id) } });
    this.fillRow(tr, item);
    return tr;
  }

  fillRow(tr, item) {
    tr._item = item;
    tr.className = `qrow prio-row-${item.priority}${item.priority === 1 && item.handling === "new" ? " p1-new" : ""}`;
    const href = `/console/incidents/${item.id}`;
    const title = item.title || item.alarm_type;
    const typeBits = [h("span", { class: "qtype mono" }, item.alarm_type)];
    if (item.unmapped_type) {
      typeBits.push(" ", h("span", { class: "tag tag-unmapped", title: `vendor code ${item.unmapped_type} is not mapped` },
        "unmapped"), " ", h("span", { class: "mono" }, item.unmapped_type));
    }
    const age = h("td", { class: "col-age num" }, fmtAge(item.first_event_at));
    tr._age = age;
    const cells = [
      h("td", { class: "col-prio" }, priorityBadge(item.priority)),
      h("td", { class: "col-title" },
        h("div", { class: "l1" },
          h("a", { href, class: "qlink", tabindex: "-1" }, title), " ",
          h("span", { class: "qtypes" }, item.title ? typeBits : typeBits.slice(1))),
        h("div", { class: "qsub show-narrow" },
          item.site || "", " ",
          item.exercise ? h("span", { class: "tag tag-exercise" }, "EXERCISE") : null, " ",
          item.condition === "cleared" ? h("span", { class: "tag tag-cleared" }, "cleared") : null,
          item.event_count > 1 ? ` · ${item.event_count} events` : "")),
      h("td", { class: "col-site hide-narrow", title: item.site || "" }, item.site || ""),
      h("td", { class: "col-state" }, stateBadge(item.handling)),
      h("td", { class: "col-cond hide-narrow" },
        item.condition === "cleared" ? h("span", { class: "tag tag-cleared", title: "the source reports the condition cleared" }, "cleared")
          : h("span", { class: "muted" }, "active")),
      h("td", { class: "col-events num hide-narrow" }, String(item.event_count)),
      age,
      h("td", { class: "col-assignee hide-narrow" }, item.assignee || ""),
      h("td", { class: "col-ex hide-narrow" }, item.exercise ? h("span", { class: "tag tag-exercise" }, "EXERCISE") : ""),
    ];
    if (this.canAct) {
      cells.push(h("td", { class: "col-act hide-narrow" }, item.handling === "new"
        ? h("button", { type: "button", class: "btn-ack", dataset: { ack: String(item.id) }, title: "Acknowledge (a)" }, "Ack")
        : ""));
    }
    tr.replaceChildren(...cells);
  }

  clicked(event) {
    const tr = event.target.closest("tr.qrow");
    if (!tr) return;
    const id = Number(tr.dataset.incidentId);
    const ack = event.target.closest("button[data-ack]");
    if (ack) { event.preventDefault(); this.onAcknowledge(id); return; }
    if (event.target.closest("a")) {
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button === 1) return; // new tab: let it be
      event.preventDefault();
    }
    this.onOpen(id);
  }

  tick() {
    const now = Date.now();
    for (const tr of this.rows.values()) {
      const text = fmtAge(tr._item.first_event_at, now);
      if (tr._age.textContent !== text) tr._age.textContent = text;
    }
  }

  // Move the selection to view index i and bring it into view.
  select(i) {
    const view = this.model.view;
    if (!view.length) { this.selectedId = null; return; }
    const index = Math.max(0, Math.min(view.length - 1, i));
    this.selectedId = view[index].id;
    const rh = this.rowHeight();
    const headH = this.headHeight();
    const rowTop = index * rh; // relative to the end of the header
    const visTop = this.scroller.scrollTop;
    const visH = this.scroller.clientHeight - headH;
    if (rowTop < visTop) this.scroller.scrollTop = rowTop;
    else if (rowTop + rh > visTop + visH) this.scroller.scrollTop = rowTop + rh - visH;
    this.render();
  }

  selectedIndex() {
    return this.selectedId == null ? -1 : this.model.indexOf(this.selectedId);
  }

  flash(id, ms = 12000) {
    this.flashing.add(id);
    setTimeout(() => { this.flashing.delete(id); this.schedule(); }, ms);
  }
}
