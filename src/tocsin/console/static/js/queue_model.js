// The queue's in-memory model: open incidents by id, kept in queue order (priority, then
// oldest first event, then id) with binary-search inserts, so a live change costs
// O(log n) to place plus one array splice, never a re-sort of thousands of rows.
// The model holds every open incident; `view` is the filtered, ordered subset shown.
// The map page shares OPEN, the queue order and fetchOpenIncidents.
import { api } from "./api.js";

export const OPEN = new Set(["new", "acknowledged", "dispatched"]);
const PAGE = 500;

// Every open incident, in queue order, page by page; `onPage(items)` sees each page as it arrives.
export async function fetchOpenIncidents(onPage) {
  const all = [];
  let cursor = null;
  do {
    const q = new URLSearchParams({ state: "open", order: "queue", limit: String(PAGE) });
    if (cursor) q.set("cursor", cursor);
    const page = await api(`/api/v1/incidents?${q}`);
    all.push(...page.items);
    cursor = page.next;
    if (onPage) onPage(page.items);
  } while (cursor);
  return all;
}

const firstMs = (inc) => {
  const ms = Date.parse(inc.first_event_at);
  return Number.isNaN(ms) ? 0 : ms;
};

// Queue order; `_t` is the first event's time in ms, parsed once.
export function compare(a, b) {
  return (a.priority - b.priority) || (a._t - b._t) || (a.id - b.id);
}

// Index of the first element not less than `item` (lower bound).
function lowerBound(list, item) {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(list[mid], item) < 0) lo = mid + 1; else hi = mid;
  }
  return lo;
}

function insertSorted(list, item) {
  list.splice(lowerBound(list, item), 0, item);
}

function removeSorted(list, item) {
  const i = lowerBound(list, item);
  if (list[i] === item) { list.splice(i, 1); return; }
  // defensive: fall back to a scan if the stored item's key was mutated
  const j = list.indexOf(item);
  if (j >= 0) list.splice(j, 1);
}

const norm = (s) => (s || "").toLowerCase();

export class QueueModel {
  constructor() {
    this.byId = new Map();
    this.view = []; // filtered, sorted: what the table shows
    this.gone = new Map(); // id -> updated_at ms of incidents that left the queue (late-page guard)
    this.filter = { site: "", type: "", priority: "", state: "" };
  }

  clear() {
    this.byId.clear();
    this.view = [];
    this.gone.clear();
  }

  setFilter(filter) {
    this.filter = { ...this.filter, ...filter };
    const view = [];
    for (const inc of this.byId.values()) {
      inc._in = this.passes(inc);
      if (inc._in) view.push(inc);
    }
    this.view = view.sort(compare);
  }

  filtering() {
    const f = this.filter;
    return Boolean(f.site || f.type || f.priority || f.state);
  }

  passes(inc) {
    const f = this.filter;
    if (f.priority && !f.priority.split(",").includes(String(inc.priority))) return false;
    if (f.state && inc.handling !== f.state) return false;
    if (f.site && !norm(inc.site).includes(norm(f.site))) return false;
    if (f.type) {
      const want = norm(f.type);
      const hay = [inc.alarm_type, inc.alarm_code, inc.unmapped_type, inc.title, inc.category].map(norm);
      if (!hay.some((v) => v.includes(want))) return false;
    }
    return true;
  }

  // Apply one incident as the server now describes it. Returns "added" | "changed" |
  // "removed" | null (stale or irrelevant).
  apply(incoming) {
    const updated = Date.parse(incoming.updated_at) || 0;
    const have = this.byId.get(incoming.id);
    if (have && have._u > updated) return null; // an older copy arrived late
    if (!have && this.gone.has(incoming.id) && this.gone.get(incoming.id) >= updated) return null;
    if (!OPEN.has(incoming.handling)) {
      this.gone.set(incoming.id, updated);
      if (!have) return null;
      this.byId.delete(incoming.id);
      if (have._in) removeSorted(this.view, have);
      return "removed";
    }
    const item = { ...incoming, _t: firstMs(incoming), _u: updated, _in: false };
    this.gone.delete(incoming.id);
    if (have) {
      if (have._in) removeSorted(this.view, have);
    }
    this.byId.set(item.id, item);
    if (this.passes(item)) { item._in = true; insertSorted(this.view, item); }
    return have ? "changed" : "added";
  }

  // Bulk load (a page of the initial list): append, then sort once at the end via finishLoad().
  addLoaded(items) {
    for (const incoming of items) {
      if (!OPEN.has(incoming.handling)) continue;
      const have = this.byId.get(incoming.id);
      const updated = Date.parse(incoming.updated_at) || 0;
      if (have && have._u > updated) continue;
      this.byId.set(incoming.id, { ...incoming, _t: firstMs(incoming), _u: updated, _in: false });
    }
  }

  finishLoad() {
    this.setFilter({});
  }

  indexOf(id) {
    const item = this.byId.get(id);
    if (!item || !item._in) return -1;
    const i = lowerBound(this.view, item);
    return this.view[i] === item ? i : this.view.indexOf(item);
  }

  counts() {
    const c = { new: 0, acknowledged: 0, dispatched: 0, total: 0, p1: 0, p1new: 0 };
    for (const inc of this.byId.values()) {
      c[inc.handling] += 1;
      c.total += 1;
      if (inc.priority === 1) { c.p1 += 1; if (inc.handling === "new") c.p1new += 1; }
    }
    return c;
  }

  // Distinct values for the filter suggestions (bounded: a datalist of 5,000 sites helps nobody).
  suggestions(field, max = 200) {
    const seen = new Set();
    for (const inc of this.byId.values()) {
      const v = inc[field];
      if (v) seen.add(v);
      if (seen.size >= max) break;
    }
    return [...seen].sort();
  }
}
