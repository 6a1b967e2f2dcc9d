// The run page: like watching model.fit(verbose=1), with charts. The page draws the run it was
// given, then follows it live over Socket.IO; a reload or a reconnect rebuilds from run_history.
// The run's owner and admins also get Stop, Continue, Rename, Share and Delete; a share link's
// visitor watches read-only, every request carrying the link's token.

import { getJSON, postJSON, sharing } from "../lib/api.js";
import { RunCharts } from "../lib/charts.js";
import { byId, el } from "../lib/dom.js";
import { FitDynamics } from "../lib/dynamics-view.js";
import { WeightHistograms } from "../lib/histogram-chart.js";
import { ACTIVE, CAN_CONTINUE, CAN_STOP, localTime, setBadge, statusText } from "../lib/run-format.js";
import { mayControl, showActions, wireCount, wireDelete, wireRename, wireShare } from "../lib/run-manage.js";
import { ExportsCard } from "../lib/export-view.js";
import { EventLog, showArtifacts, showOptions, showProgress } from "../lib/run-view.js";
import { watchRun } from "../lib/socket.js";
import { showSummary } from "../lib/summary.js";

const page = JSON.parse(byId("page-data").textContent);
const run = page.run;
const runUrl = `/api/runs/${encodeURIComponent(run.id)}`;
const share = page.share || null;
// A share link opens this run's read-only calls when they carry its token.
const shared = sharing(share);
const canControl = !share && mayControl(page.me, run);
const QUEUE_POLL_MS = 5000;

// What the page shows, kept apart from the page data so live events can move it along.
const view = {
  status: run.status,
  error: run.error,
  history: run.history || {},
  epochsDone: run.epochs_done || 0,
  planned: run.epochs_planned || (run.spec && run.spec.fit ? run.spec.fit.epochs : 0) || 0,
  progress: run.progress || null,
  queuePosition: run.queue_position ?? null,
  busy: false,   // a Stop or Continue request is on its way
  awaiting: null,   // the status an accepted Stop or Continue will move away from
};

const progressParts = {
  bar: byId("progress"), fill: byId("progress-fill"), epoch: byId("progress-epoch"),
  batches: byId("progress-batches"), speed: byId("progress-speed"), eta: byId("progress-eta"),
  logs: byId("progress-logs"),
};
const charts = new RunCharts(byId("charts"));
const log = new EventLog(byId("event-log"));
const stopButton = byId("stop-button");
const continueButton = byId("continue-button");
const continueEpochs = byId("continue-epochs");
const fineTune = { box: byId("fine-tune-fields"), unfreeze: byId("continue-unfreeze"), rate: byId("continue-rate") };
let warningPins = [];   // the dynamics' warnings on the loss chart; the fine-tuning phases join them
const actionError = byId("action-error");
const histograms = new WeightHistograms(byId("histograms"), byId("histograms-note"), shared(`${runUrl}/histograms`),
  byId("histograms-latest"));
const inside = new FitDynamics({
  ratio: byId("dynamics-ratio"), grads: byId("dynamics-grads"), rate: byId("dynamics-rate"),
  warnings: byId("dynamics-warnings"), explain: byId("dynamics-explain"), note: byId("dynamics-note"),
  finder: byId("lr-finder"), finderNote: byId("lr-finder-note"), useRate: byId("use-rate"),
}, shared(`${runUrl}/dynamics`), run.spec || {}, pinWarnings);
const exportsCard = new ExportsCard({
  form: byId("export-form"), format: byId("export-format"), quantization: byId("export-quantization"),
  build: byId("export-build"), error: byId("export-error"), rows: byId("export-rows"), empty: byId("exports-empty"),
  curl: byId("predict-curl"),
}, runUrl, shared, canControl);

/** Pin the dynamics' warnings on the loss chart, each where it happened (its epoch plus batch / steps). */
function pinWarnings(warnings, steps) {
  warningPins = warnings.map((w) => {
    const batches = steps.filter((s) => s.epoch === w.epoch).map((s) => s.batch);
    const perEpoch = Math.max(w.batch, (view.progress && view.progress.steps) || 0, ...batches);
    return { x: w.epoch - 1 + w.batch / perEpoch, kind: w.kind, text: `${w.kind}: ${w.message}` };
  });
  drawPins();
}

/** Pin the warnings and a line where each fine-tuning phase began (between its epoch and the next). */
function drawPins() {
  const phases = (run.phases || []).map((p) => ({ x: p.epoch + 0.5, kind: "fine_tune",
    text: `fine-tuning from epoch ${p.epoch + 1}: unfreeze ${p.unfreeze} at learning rate ${p.learning_rate}${p.note ? ` (${p.note})` : ""}` }));
  charts.setPins([...phases, ...warningPins]);
}

/** Say whether the run's model has a pretrained backbone (fine-tuning needs one). */
function hasBackbone() {
  const types = new Set(page.backbones || []);
  return ((run.spec && run.spec.model && run.spec.model.layers) || []).some((layer) => types.has(layer.type));
}

/** Draw the parts that never change: name, id, dataset, model summary and settings. */
function drawFixed() {
  drawName();
  byId("run-id").textContent = String(run.id);
  byId("run-owner").textContent = run.owner || "—";
  const dataset = byId("run-dataset");
  dataset.textContent = run.dataset || "—";
  // The dataset's page needs an account: a share link's visitor gets its name only.
  if (share) dataset.removeAttribute("href");
  else dataset.href = `/datasets/${encodeURIComponent(run.dataset || "")}`;
  const body = document.querySelector("#summary-table tbody");
  if (run.summary) {
    showSummary({ body, totals: byId("summary-totals"), warnings: byId("summary-warnings") },
      { ...run.summary, warnings: [] });
  } else {
    const note = "No summary was stored for this run.";
    body.replaceChildren(el("tr", {}, el("td", { colspan: 3, class: "muted", text: note })));
  }
  const spec = run.spec || {};
  showOptions(byId("compile-options"), spec.compile);
  showOptions(byId("fit-options"), spec.fit);
  byId("spec-json").textContent = JSON.stringify(spec, null, 2);
  continueEpochs.value = String((spec.fit && spec.fit.epochs) || 1);
}

/** Draw the run's name (it changes with a rename). */
function drawName() {
  byId("run-name").textContent = run.name || `Run ${run.id}`;
}

/** Draw the times, the downloads and who did what (they change when a run starts and ends). */
function drawTimes() {
  byId("run-created").textContent = localTime(run.created_at);
  byId("run-started").textContent = localTime(run.started_at);
  byId("run-finished").textContent = localTime(run.finished_at);
  showArtifacts(byId("artifacts"), run.id, run.artifacts, ACTIVE.has(view.status), share);
  showActions(byId("who-did-what"), run.actions);
}

/** Draw everything that follows the status: badge, queue place, epochs, error, buttons, progress. */
function drawStatus() {
  const badge = byId("run-status");
  setBadge(badge, view.status);
  document.title = `${statusText(view.status)} · ${run.name || `Run ${run.id}`} · Keras dashboard`;
  const queue = byId("queue-position");
  queue.hidden = view.status !== "queued" || !view.queuePosition;
  queue.textContent = view.queuePosition ? `#${view.queuePosition} in the queue` : "";
  queue.dataset.position = String(view.queuePosition || "");
  byId("run-epochs").textContent = `${view.epochsDone} of ${view.planned || "?"}`;
  const runError = byId("run-error");
  runError.hidden = !view.error;
  runError.textContent = view.error || "";
  if (view.awaiting !== view.status) view.awaiting = null;
  const waiting = view.busy || view.awaiting !== null;
  stopButton.disabled = waiting || !CAN_STOP.has(view.status);
  // A range test's weights are thrown away: there is nothing to continue from (the server answers 409).
  const canContinue = !waiting && CAN_CONTINUE.has(view.status) && !(run.spec && run.spec.fit && run.spec.fit.find_lr);
  continueButton.disabled = !canContinue;
  continueEpochs.disabled = !canContinue;
  fineTune.unfreeze.disabled = fineTune.rate.disabled = !canContinue;
  const deleteButton = document.getElementById("delete-button");
  if (deleteButton) {
    deleteButton.disabled = ACTIVE.has(view.status);
    deleteButton.title = deleteButton.disabled ? "Stop the run before deleting it." : "";
  }
  byId("run-page").dataset.status = view.status;
  showProgress(progressParts, view);
}

/** Give " (position 2 in the queue)" for a queued status line, else "". */
function queueNote(status, position) {
  return status === "queued" && position ? ` (position ${position} in the queue)` : "";
}

/** Rebuild from a run_history: the whole state as of its last_seq (first load, reload, reconnect). */
function onHistory(payload) {
  view.status = payload.status;
  view.error = payload.error ?? null;
  view.history = payload.history || {};
  view.epochsDone = payload.epochs_done ?? Math.max(0, ...Object.values(view.history).map((v) => v.length));
  if (payload.epochs_planned) view.planned = payload.epochs_planned;
  view.progress = payload.progress || null;
  view.queuePosition = payload.queue_position ?? null;
  charts.draw(view.history, view.planned);
  drawPins();
  // The status line goes where it happened: a running run's start before its epochs, an end
  // (or a queued continue) after them.
  const training = view.status === "running" || view.status === "stopping";
  const status = () => log.setStatus(view.status, view.error, queueNote(view.status, view.queuePosition),
    statusTime(payload));
  if (training) status();
  log.addEpochs(view.history, view.planned, "");
  if (!training) status();
  drawStatus();
}

/** Give the clock time of a status when the payload (a whole run) tells it, else undefined (now). */
function statusTime(payload) {
  const iso = ACTIVE.has(payload.status) ? payload.status !== "queued" && payload.started_at : payload.finished_at;
  return iso ? clockPart(iso) : undefined;
}

/** Give the clock part of a server time: "14:03:12". */
function clockPart(iso) {
  return localTime(iso).slice(11);
}

/** Follow a status change; at the end of a run fetch the run again for its files and times. */
function onStatus(payload) {
  const was = view.status;
  view.status = payload.status;
  view.error = payload.error ?? null;
  if ("queue_position" in payload) view.queuePosition = payload.queue_position;
  if (payload.epochs_planned) {
    view.planned = payload.epochs_planned;
    charts.setPlanned(view.planned);
  }
  if (payload.status === "queued") view.progress = null;   // a continue starts a new fit
  if (payload.status !== was || payload.error) {
    log.setStatus(view.status, view.error, queueNote(view.status, view.queuePosition));
  }
  drawStatus();
  if (ACTIVE.has(was) && !ACTIVE.has(payload.status)) histograms.ended();
  if (!ACTIVE.has(payload.status) || (payload.status === "running" && was !== "running")) refreshRun();
}

/** Move the progress bar. */
function onBatch(payload) {
  view.progress = payload;
  showProgress(progressParts, view);
}

/** Add a finished epoch to the charts, the log and the epoch count. */
function onEpoch(payload) {
  if (payload.epoch <= view.epochsDone) return;
  charts.addEpoch(payload.epoch, payload.logs || {});
  view.history = charts.history;
  view.epochsDone = payload.epoch;
  log.addEpoch(payload.epoch, view.planned, payload.logs || {});
  histograms.recorded(payload.epoch);   // the trainer records them before it reports the epoch
  // Keras's bar ends an epoch full, with the validation numbers: show the same until the next batch.
  const steps = view.progress && view.progress.epoch === payload.epoch ? view.progress.steps : 1;
  view.progress = { ...(view.progress || {}), epoch: payload.epoch, batch: steps, steps, eta_s: 0, logs: payload.logs };
  drawStatus();
}

/**
 * Fetch the run again for what only the REST answer carries (files, start and end times); when it
 * is newer than the last live event (the socket is down, say), rebuild from it as from run_history.
 */
async function refreshRun() {
  try {
    applyRun((await getJSON(shared(runUrl))).run);
  } catch (err) {
    log.add("error", `Could not reload the run: ${err.message}`);
  }
}

/** Take what a REST answer's run object brings that the live events do not (or have not yet). */
function applyRun(fresh) {
  Object.assign(run, { started_at: fresh.started_at, finished_at: fresh.finished_at, artifacts: fresh.artifacts,
    actions: fresh.actions ?? run.actions, name: fresh.name ?? run.name, phases: fresh.phases ?? run.phases });
  drawName();
  drawPins();
  if (fresh.lr_finder) inside.setFinder(fresh.lr_finder);
  if (typeof fresh.last_seq === "number" && fresh.last_seq > watch.lastSeq) {
    watch.skipTo(fresh.last_seq);
    onHistory(fresh);
  } else if (fresh.status === "queued" && view.status === "queued") {
    view.queuePosition = fresh.queue_position;   // moves without an event when a run ahead ends
    drawStatus();
  }
  drawTimes();
}

/** Send Stop or Continue; a refusal is shown under the buttons, and a 409 fetches the run again. */
async function act(path, body) {
  actionError.hidden = true;
  const before = view.status;
  view.busy = true;
  drawStatus();
  try {
    const answer = await postJSON(`${runUrl}/${path}`, body);
    // Until the status moves on, the same button must not be pressed again.
    if (view.status === before) view.awaiting = before;
    // The answer carries the run: the page moves on even when the live connection is down.
    if (answer && answer.run) applyRun(answer.run);
  } catch (err) {
    actionError.textContent = err.message;
    actionError.hidden = false;
    // 409: the run moved on without this page hearing of it (the live connection is down, say).
    if (err.status === 409) refreshRun();
  } finally {
    view.busy = false;
    drawStatus();
  }
}

/** Wire Stop, Continue, Rename, Delete and Share for the owner or an admin; remove them for anyone else. */
function wireControls() {
  if (!canControl) {
    for (const node of document.querySelectorAll(".owner-only, #delete-confirm, #share-box")) node.remove();
    const note = byId("readonly-note");
    note.hidden = false;
    note.textContent = share ? "Shared with you read-only: this link shows the run and its gallery."
      : `Read-only: only ${run.owner || "the run's owner"} and admins can stop, continue or change this run.`;
    return;
  }
  stopButton.addEventListener("click", () => act("stop", {}));
  fineTune.box.hidden = !hasBackbone();
  wireCount(continueButton, continueEpochs, "Continue", "epochs", actionError, (epochs) => act("continue", continueBody(epochs)));
  const getName = () => run.name || `Run ${run.id}`;
  wireRename(runUrl, getName, (fresh) => { applyRun(fresh); drawStatus(); }, actionError);
  wireDelete(runUrl, getName, actionError);
  wireShare(runUrl, refreshRun, actionError);
}

/** Give Continue's body: the epochs, and when unfreeze is filled in, the fine-tuning (the server checks both). */
function continueBody(epochs) {
  const unfreeze = fineTune.unfreeze.value.trim();
  if (fineTune.box.hidden || !unfreeze) return { epochs };
  const count = Number(unfreeze);
  const rate = fineTune.rate.value.trim();
  return { epochs, unfreeze: unfreeze === "all" || !Number.isInteger(count) ? unfreeze : count,
    learning_rate: rate === "" ? null : Number(rate) };
}

/** Show whether live updates flow. */
function onConnection(state, message) {
  const node = byId("connection");
  node.dataset.state = state;
  node.textContent = state === "connected" ? "live" : state === "refused"
    ? `live updates refused${message ? `: ${message}` : ""}` : "reconnecting…";
}

/** Start the log with what the run object tells: when it was created and (if over) started. */
function startLog() {
  log.add("info", "Created", clockPart(run.created_at));
  // A running run's status line says when it started; a finished one's says when it ended.
  if (run.started_at && !ACTIVE.has(run.status)) log.add("info", "Started", clockPart(run.started_at));
}

if (share) {
  for (const link of document.querySelectorAll(".gallery-link")) link.href = shared(link.getAttribute("href"));
}
wireControls();
drawFixed();
drawTimes();
startLog();
onHistory(run);
histograms.follow(byId("histograms").closest("section"));
inside.setFinder(run.lr_finder);
// Each run_history (a connection or a reconnect) fetches the dynamics again: events missed meanwhile are in it.
const watch = watchRun(run.id, {
  onHistory: (payload) => { onHistory(payload); inside.load(); exportsCard.load(); },
  onStatus, onBatch, onEpoch, onConnection, onDynamics: (payload) => inside.add(payload),
  onExport: (payload) => exportsCard.upsert(payload.export),
}, page.share ? { auth: { share: page.share } } : {});
window.addEventListener("pagehide", () => watch.close());
setInterval(() => { if (view.status === "queued") refreshRun(); }, QUEUE_POLL_MS);
