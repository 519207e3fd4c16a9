// What every console page shares: log out, the keyboard help, the connection badge.
import { api, h, showError } from "./api.js";
import { GO, gPrefix, typing } from "./keys.js";

document.getElementById("logout")?.addEventListener("click", async () => {
  try {
    await api("/api/v1/auth/logout", { method: "POST" });
  } catch (err) {
    showError(err);
  }
  location.assign("/console/login");
});

const HELP = [
  ["j / ↓", "next incident in the queue"],
  ["k / ↑", "previous incident"],
  ["Enter", "open the selected incident"],
  ["a", "acknowledge (the selected incident, or the one open)"],
  ["n / r / c", "on an incident: note, resolve, close"],
  ["u / Backspace", "on an incident: back to the queue"],
  ["/", "filter the queue"],
  ["m", "mute or unmute the priority-1 sound"],
  ["g q / g m / g d", "go to queue, map, dashboards"],
  ["?", "this help"],
  ["Esc", "close a dialog"],
];

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
  if (event.key === "?") {
    event.preventDefault();
    const dialog = h("dialog", { class: "modal", "aria-label": "Keyboard shortcuts" },
      h("h2", {}, "Keyboard"),
      h("table", { class: "keys" }, ...HELP.map(([k, d]) => h("tr", {}, h("th", {}, k), h("td", {}, d)))),
      h("form", { method: "dialog" }, h("button", { class: "btn-primary" }, "Close")));
    dialog.addEventListener("close", () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  } else if (gPrefix(event) && GO[event.key]) {
    location.assign(GO[event.key]);
  }
});
