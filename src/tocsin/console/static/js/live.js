// Live incident changes over Server-Sent Events (GET /api/v1/stream).
// Changes are handed over in batches, once per animation frame, so a burst of hundreds
// of updates costs one re-render. After a reconnect or a "reset" (this client fell
// behind) the page reloads its state through onReset: changes missed meanwhile are
// never silently lost.

const KINDS = ["incident.opened", "incident.updated", "incident.state_changed", "incident.condition_changed"];

export function live({ onChanges, onReset }) {
  const status = document.getElementById("conn");
  let pending = [];
  let scheduled = false;
  let source = null;
  let everOpened = false;
  let retry = null;

  const setStatus = (text, cls) => {
    if (!status) return;
    status.textContent = text;
    status.className = `conn conn-${cls}`;
  };
  const flush = () => {
    scheduled = false;
    const batch = pending;
    pending = [];
    if (batch.length) onChanges(batch);
  };
  const push = (kind, event) => {
    let incident;
    try { incident = JSON.parse(event.data); } catch { return; }
    pending.push({ kind, incident });
    if (!scheduled) {
      scheduled = true;
      // rAF pauses in background tabs; a timer keeps the queue current there too
      if (document.hidden) setTimeout(flush, 250); else requestAnimationFrame(flush);
    }
  };
  const connect = () => {
    source = new EventSource("/api/v1/stream");
    source.addEventListener("open", () => {
      setStatus("live", "live");
      if (everOpened && onReset) onReset(); // we were away: reload what we missed
      everOpened = true;
    });
    for (const kind of KINDS) source.addEventListener(kind, (event) => push(kind, event));
    source.addEventListener("reset", () => {
      source.close();
      setStatus("resyncing", "warn");
      if (onReset) onReset();
      connect();
    });
    source.addEventListener("error", () => {
      setStatus("reconnecting", "warn");
      if (source.readyState === EventSource.CLOSED) {
        clearTimeout(retry);
        retry = setTimeout(connect, 2000);
      }
    });
  };
  connect();
  return { close: () => source && source.close() };
}
