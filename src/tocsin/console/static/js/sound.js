// The priority-1 alert sound: a two-tone signal generated with WebAudio (no audio files),
// and the mute toggle that goes with it. Browsers keep an AudioContext suspended until
// the person interacts with the page, so the context is resumed on the first click or
// key press, and the toggle says "sound blocked" until then: an operator must be able to
// see at a glance that the alarm would not be heard.

import { h } from "./api.js";

const STORAGE_KEY = "tocsin.sound.muted";
const MIN_GAP_MS = 2500; // a flood of P1s plays one alert, not a cacophony

let ctx = null;
let lastPlayed = 0;
let muted = readMuted();
const buttons = new Set();

function readMuted() {
  try { return localStorage.getItem(STORAGE_KEY) === "1"; } catch { return false; }
}

function context() {
  if (ctx) return ctx;
  const Ctor = window.AudioContext || window.webkitAudioContext;
  if (!Ctor) return null;
  try { ctx = new Ctor(); } catch { return null; }
  ctx.addEventListener?.("statechange", refresh);
  return ctx;
}

// "on" | "muted" | "blocked" (waiting for a gesture) | "unsupported"
export function soundState() {
  if (muted) return "muted";
  if (!(window.AudioContext || window.webkitAudioContext)) return "unsupported";
  // the context is only created on a gesture, so no "not allowed to start" warning
  return ctx && ctx.state === "running" ? "on" : "blocked";
}

function unlock() {
  const c = context();
  if (c && c.state !== "running") c.resume().then(refresh, refresh);
}
document.addEventListener("pointerdown", unlock, { capture: true });
document.addEventListener("keydown", unlock, { capture: true });

export function setMuted(value) {
  muted = Boolean(value);
  try { localStorage.setItem(STORAGE_KEY, muted ? "1" : "0"); } catch { /* private mode: not persisted */ }
  refresh();
}

export function toggleMute() {
  setMuted(!muted);
  if (!muted) unlock();
  return muted;
}

// Play the two-tone alert (high-low, three times, about 1.3 s). Returns whether it sounded.
export function alertTone({ force = false } = {}) {
  if (muted) return false;
  const c = ctx;
  if (!c || c.state !== "running") return false;
  const now = performance.now();
  if (!force && now - lastPlayed < MIN_GAP_MS) return false;
  lastPlayed = now;
  const t0 = c.currentTime + 0.02;
  const gain = c.createGain();
  gain.connect(c.destination);
  gain.gain.setValueAtTime(0.0001, t0);
  const osc = c.createOscillator();
  osc.type = "square";
  osc.connect(gain);
  const beat = 0.22;
  for (let i = 0; i < 6; i++) {
    const t = t0 + i * beat;
    osc.frequency.setValueAtTime(i % 2 ? 660 : 960, t);
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.18, t + 0.015);
    gain.gain.setValueAtTime(0.18, t + beat - 0.04);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + beat - 0.005);
  }
  osc.start(t0);
  osc.stop(t0 + 6 * beat + 0.05);
  osc.addEventListener("ended", () => gain.disconnect());
  return true;
}

const LABELS = {
  on: ["Sound: on", "Priority-1 alert sound is on (m to mute)"],
  muted: ["Sound: muted", "Priority-1 alert sound is muted (m to unmute)"],
  blocked: ["⚠ Sound blocked", "The browser blocks sound until you click or press a key on this page"],
  unsupported: ["⚠ No sound", "This browser cannot play the alert sound"],
};

function refresh() {
  const state = soundState();
  for (const button of buttons) {
    const [text, title] = LABELS[state];
    button.textContent = text;
    button.title = title;
    button.dataset.sound = state;
    button.setAttribute("aria-pressed", String(muted));
  }
}

// The toggle button (#mute). Clicking it also counts as the gesture that unlocks audio.
export function muteButton() {
  const button = h("button", { type: "button", id: "mute", class: "sound-toggle", "aria-pressed": String(muted) });
  button.addEventListener("click", () => {
    toggleMute();
    if (!muted) alertTone({ force: true }); // let the operator hear what an alert sounds like
  });
  buttons.add(button);
  refresh();
  return button;
}
