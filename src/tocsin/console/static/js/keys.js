// Keyboard shortcuts every page shares: whether a key is being typed into a field, and the
// "g then a key within a second" prefix that goes to another page (g q, g m, g d; shell.js).
const FIELDS = "input, textarea, select, [contenteditable]";
const FIELDS_BUT_CHECKBOXES = "input:not([type=checkbox]), textarea, select, [contenteditable]";
const G_WINDOW_MS = 1000;
export const GO = { q: "/console/", m: "/console/map", d: "/console/dashboard" };

let lastG = 0;

// True when the key goes into a form field, so it is text, not a shortcut.
export function typing(target, { exceptCheckboxes = false } = {}) {
  return target instanceof HTMLElement && Boolean(target.closest(exceptCheckboxes ? FIELDS_BUT_CHECKBOXES : FIELDS));
}

// True for a g and for any key less than a second after one. One clock for every listener
// on the page, so the shell and the page agree on which keys belong to a "g x".
export function gPrefix(event) {
  if (event.key === "g") {
    lastG = Date.now();
    return true;
  }
  return Date.now() - lastG < G_WINDOW_MS;
}
