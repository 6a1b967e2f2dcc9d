// How runs read on a page: statuses, metric values as Keras prints them, durations and times.

import { el } from "./dom.js";

/** Statuses in which a run is still moving (the runs list keeps refreshing while one is). */
export const ACTIVE = new Set(["queued", "running", "stopping"]);
/** Statuses from which Stop is accepted. */
export const CAN_STOP = new Set(["queued", "running"]);
/** A sweep trial's states after which it changes no more. */
export const TRIAL_ENDED = new Set(["complete", "pruned", "failed", "stopped"]);
/** Statuses from which Continue may be asked (the server still says no without a saved model). */
export const CAN_CONTINUE = new Set(["completed", "stopped", "interrupted", "failed"]);

const STATUS_TEXT = {
  queued: "Queued", running: "Running", stopping: "Stopping", completed: "Completed",
  stopped: "Stopped", failed: "Failed", interrupted: "Interrupted",
  // A sweep's trials (Optuna's states).
  complete: "Complete", pruned: "Pruned",
};

/** Give a status as a reader wants it: "running" -> "Running". */
export function statusText(status) {
  return STATUS_TEXT[status] || String(status || "unknown");
}

/** Give a status badge <span class="status-badge" data-status=STATUS>. */
export function statusBadge(status, id) {
  return el("span", { class: "status-badge", id, dataset: { status: String(status) }, text: statusText(status) });
}

/** Make `node` (a status badge) show `status`. */
export function setBadge(node, status) {
  node.dataset.status = String(status);
  node.textContent = statusText(status);
}

/** Give a metric value as Keras's progress bar prints it: 0.1234; tiny values as 1.2e-5; none as "—". */
export function metric(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  if (typeof value !== "number") return String(value);
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  if (value !== 0 && Math.abs(value) < 1e-4) return value.toExponential(1);
  return value.toFixed(4);
}

/** Give logs as Keras prints them: "loss: 0.2345 - accuracy: 0.9123". */
export function logsText(logs) {
  return Object.entries(logs || {}).map(([key, value]) => `${key}: ${metric(value)}`).join(" - ");
}

/** Give the last value of `key` in a history, or null. */
export function lastValue(history, key) {
  const values = (history || {})[key];
  return values && values.length ? values[values.length - 1] : null;
}

/** Give seconds as Keras's ETA reads: "45s", "2:05", "1:02:03" (and "<1s"). */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "—";
  if (seconds > 0 && seconds < 1) return "<1s";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** Give a Date from the server's ISO text; text without a zone is UTC (as the server stores it). */
export function parseTime(iso) {
  if (!iso) return null;
  const text = /(Z|[+-]\d\d:?\d\d)$/.test(iso) ? iso : `${iso}Z`;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Give a server time in the reader's local time, "2024-05-02 14:03:12"; "—" when there is none. */
export function localTime(iso) {
  const date = parseTime(iso);
  if (!date) return "—";
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} `
    + `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** Give a whole number with thousands separators: 12,345. */
export function count(n) {
  return Number(n).toLocaleString("en-US", { maximumFractionDigits: 0 });
}
