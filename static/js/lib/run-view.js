// Pieces of the run page that draw one thing each: the progress bar, the event log, the
// compile/fit options and the downloads. They take plain data and touch only their own nodes.

import { el, replaceChildren } from "./dom.js";
import { count, duration, logsText, statusText } from "./run-format.js";

/** Give "Epoch 3/10" (or "Epoch 3" when the plan is unknown). */
function epochLabel(epoch, planned) {
  return planned ? `Epoch ${epoch}/${planned}` : `Epoch ${epoch}`;
}

/**
 * Draw the progress of the current epoch like Keras's verbose=1 bar.
 *
 * Args:
 *   parts: {bar, fill, epoch, batches, speed, eta, logs} nodes of the progress card.
 *   view: {status, progress (a run_batch payload or null), epochsDone, planned, queuePosition}.
 */
export function showProgress(parts, view) {
  const { status, progress, epochsDone, planned } = view;
  let fraction = 0;
  let heading;
  const training = status === "running" || status === "stopping";
  const live = Boolean(progress) && training;
  const texts = { batches: "", speed: "", eta: "", logs: "" };
  if (live) {
    fraction = progress.steps ? Math.min(1, progress.batch / progress.steps) : 0;
    heading = epochLabel(progress.epoch, planned);
    texts.batches = progress.steps ? `${progress.batch}/${progress.steps}` : String(progress.batch);
    texts.speed = progress.samples_per_s ? `${count(progress.samples_per_s)} samples/s` : "";
    texts.eta = progress.batch >= progress.steps ? "" : `ETA ${duration(progress.eta_s)}`;
    texts.logs = logsText(progress.logs);
  } else if (status === "queued") {
    heading = view.queuePosition ? `Waiting in the queue (position ${view.queuePosition})` : "Waiting in the queue";
  } else if (training) {
    heading = epochsDone < planned ? `${epochLabel(epochsDone + 1, planned)}: starting…` : "Saving…";
  } else {
    fraction = planned ? Math.min(1, epochsDone / planned) : 0;
    heading = `${statusText(status)}: ${epochsDone} of ${planned || epochsDone} epochs`;
  }
  parts.bar.dataset.state = status;
  parts.bar.dataset.epoch = String(live ? progress.epoch : epochsDone);
  parts.bar.dataset.batch = String(live ? progress.batch : 0);
  parts.bar.dataset.steps = String(live ? progress.steps : 0);
  parts.bar.setAttribute("aria-valuenow", String(Math.round(fraction * 100)));
  parts.bar.setAttribute("aria-valuetext", heading);
  // A new epoch empties the bar at once, as Keras's does; only filling up is animated.
  const width = `${(fraction * 100).toFixed(2)}%`;
  if (fraction < Number(parts.fill.dataset.fraction || 0)) {
    parts.fill.style.transition = "none";
    parts.fill.style.width = width;
    void parts.fill.offsetWidth;   // apply the width before the transition comes back
    parts.fill.style.transition = "";
  } else {
    parts.fill.style.width = width;
  }
  parts.fill.dataset.fraction = String(fraction);
  parts.epoch.textContent = heading;
  for (const key of Object.keys(texts)) parts[key].textContent = texts[key];
}

/** Give the clock time now as "14:03:12". */
function clock() {
  return new Date().toLocaleTimeString("en-GB", { hour12: false });
}

/**
 * The event log: status changes, finished epochs with their logs, errors (in red). It remembers
 * which epochs it has written so a history replayed after a reconnect adds only what is new.
 */
export class EventLog {
  constructor(list) {
    this.list = list;
    this.epochs = 0;
    this.status = null;
  }

  /** Add one line; kind is "status", "epoch", "error" or "info"; `when` is a clock time or "". */
  add(kind, text, when = clock()) {
    const item = el("li", { class: "log-entry", dataset: { kind } },
      el("time", { class: "log-time", text: when }), el("span", { class: "log-text", text }));
    this.list.append(item);
    // Follow the end, as a terminal does, unless the reader scrolled up to read.
    const box = this.list;
    if (box.scrollHeight - box.scrollTop - box.clientHeight < 80) box.scrollTop = box.scrollHeight;
  }

  /** Write the epochs of `history` not written yet ("Epoch 3/10 - loss: 0.2134 - ..."). */
  addEpochs(history, planned, when) {
    const keys = Object.keys(history || {});
    const total = Math.max(0, ...keys.map((k) => history[k].length));
    for (let i = this.epochs; i < total; i += 1) {
      const logs = Object.fromEntries(keys.filter((k) => history[k][i] !== null && history[k][i] !== undefined)
        .map((k) => [k, history[k][i]]));
      this.addEpoch(i + 1, planned, logs, when);
    }
  }

  /** Write one finished epoch once. */
  addEpoch(epoch, planned, logs, when) {
    if (epoch <= this.epochs) return;
    this.epochs = epoch;
    this.add("epoch", `${epochLabel(epoch, planned)} - ${logsText(logs)}`, when);
  }

  /** Write a status change once (and the error text, in red, when the run failed). */
  setStatus(status, error, extra = "", when = undefined) {
    if (status === this.status) return;
    this.status = status;
    this.add(status === "failed" ? "error" : "status", `${statusText(status)}${extra}`, when);
    if (error) this.add("error", String(error), when);
  }
}

/** Give a value of the spec as text: Adadelta(learning_rate=1.0, rho=0.95), [3, 3], "test". */
export function optionText(value) {
  if (value === null || value === undefined) return "off";
  if (Array.isArray(value)) return `[${value.map(optionText).join(", ")}]`;
  if (typeof value === "object") {
    const inner = Object.entries(value).filter(([k]) => k !== "type").map(([k, v]) => `${k}=${optionText(v)}`);
    return value.type ? `${value.type}(${inner.join(", ")})` : `{${inner.join(", ")}}`;
  }
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Fill a <dl> with one row per option; callbacks get a row each. */
export function showOptions(dl, options) {
  const rows = [];
  for (const [key, value] of Object.entries(options || {})) {
    if (key === "callbacks" && value && typeof value === "object") {
      for (const [name, cb] of Object.entries(value)) {
        rows.push([`callbacks.${name}`, cb && typeof cb === "object" ? optionText(cb).slice(1, -1) : optionText(cb)]);
      }
    } else {
      rows.push([key, optionText(value)]);
    }
  }
  replaceChildren(dl, rows.map(([term, text]) => el("div", { dataset: { option: term } },
    el("dt", { text: term }), el("dd", { class: "mono", text }))));
}

const ARTIFACT_NOTES = {
  "model.keras": "the trained model (model.save), optimizer state included",
  "best.keras": "the best epoch kept by the checkpoint",
  "model.json": "the architecture (model.to_json())",
  "history.csv": "one row per epoch",
  "train.py": "a script that reproduces this run",
};

/** Fill the downloads list with links to /api/runs/ID/artifacts/NAME (with ?share=TOKEN for a share link). */
export function showArtifacts(list, runId, names, active, share = null) {
  if (!names || !names.length) {
    const note = active ? "The files appear here when training ends." : "No files were saved for this run.";
    replaceChildren(list, el("li", { class: "muted", text: note }));
    return;
  }
  replaceChildren(list, names.map((name) => el("li", { dataset: { artifact: name } },
    el("a", { href: `/api/runs/${encodeURIComponent(runId)}/artifacts/${encodeURIComponent(name)}${
      share ? `?share=${encodeURIComponent(share)}` : ""}`,
      download: name, class: "mono", text: name }),
    el("span", { class: "muted", text: ARTIFACT_NOTES[name] ? ` — ${ARTIFACT_NOTES[name]}` : "" }))));
}
