// The priority-1 banner (#p1-banner): every new P1 that arrived while the page was open
// stays listed until someone acknowledges it (here or anywhere) or the operator dismisses
// it, so a fire alarm cannot scroll away under a flood of lesser alarms. While any is
// listed and unacknowledged the tone repeats, unless muted.

import { config, h } from "./api.js";
import { alertTone } from "./sound.js";

const REPEAT_MS = 60000;
const MAX_SHOWN = 2; // in a flood the banner must not push the queue off the screen

export class P1Banner {
  constructor({ onOpen, onAcknowledge, onShowAll }) {
    this.onOpen = onOpen;
    this.onShowAll = onShowAll;
    this.onAcknowledge = onAcknowledge;
    this.items = new Map(); // id -> incident, in arrival order
    this.list = h("ul", { class: "p1-list" });
    this.node = h("section", { id: "p1-banner", class: "p1-banner", role: "alert", "aria-label": "New priority-1 incidents",
      hidden: true },
    this.list,
    h("button", { type: "button", class: "btn-quiet p1-dismiss-all", onclick: () => this.clear() }, "Dismiss all"));
    setInterval(() => { if (this.items.size) alertTone(); }, REPEAT_MS);
  }

  announce(incident) {
    const fresh = !this.items.has(incident.id);
    this.items.set(incident.id, incident);
    this.render();
    if (fresh) alertTone();
  }

  // An incident changed: drop it once it is no longer new (acknowledged, or gone).
  update(incident, removed = false) {
    if (!this.items.has(incident.id)) return;
    if (removed || incident.handling !== "new") this.items.delete(incident.id);
    else this.items.set(incident.id, incident);
    this.render();
  }

  dismiss(id) {
    this.items.delete(id);
    this.render();
  }

  clear() {
    this.items.clear();
    this.render();
  }

  render() {
    this.node.hidden = this.items.size === 0;
    this.node.querySelector(".p1-dismiss-all").hidden = this.items.size < 2;
    const entries = [...this.items.values()].reverse(); // newest first
    const shown = entries.slice(0, MAX_SHOWN);
    const items = shown.map((inc) => h("li", { dataset: { incidentId: String(inc.id) } },
      h("strong", {}, "New P1: "),
      h("a", { href: `/console/incidents/${inc.id}`, onclick: (e) => { e.preventDefault(); this.onOpen(inc.id); } },
        inc.title || inc.alarm_type),
      inc.site ? h("span", { class: "p1-site" }, ` · ${inc.site}`) : null,
      inc.exercise ? h("span", { class: "tag tag-exercise" }, "EXERCISE") : null,
      h("span", { class: "row p1-actions" },
        config.can?.act ? h("button", { type: "button", class: "btn-primary", onclick: () => this.onAcknowledge(inc.id) },
          "Acknowledge") : null,
        h("button", { type: "button", class: "btn-quiet", onclick: () => this.dismiss(inc.id),
          title: "Hide this notice (the incident stays in the queue)" }, "Dismiss"))));
    if (entries.length > shown.length) {
      items.push(h("li", { class: "p1-more" }, `and ${entries.length - shown.length} more new P1 `,
        h("button", { type: "button", class: "btn-quiet", onclick: () => this.onShowAll() }, "Show all new P1 in the queue")));
    }
    this.list.replaceChildren(...items);
  }
}
