// The sweep page: its trials as they arrive, the charts of what they found, the best trial (its run,
// and its spec opened in the builder), Stop and Resume. It draws the sweep GET /api/sweeps/ID gives,
// then follows it live over Socket.IO (sweep_history, sweep_trial, sweep_status); what the live
// events do not carry (the best trial, the importance, the plan after a resume) it fetches again.
// The sweep's owner and admins get Stop and Resume; viewers and share-link visitors watch read-only.

import { getJSON, postJSON, sharing } from "../lib/api.js";
import { byId, debounce } from "../lib/dom.js";
import { TRIAL_ENDED, localTime, setBadge, statusText } from "../lib/run-format.js";
import { mayControl, wireCount, wireShare } from "../lib/run-manage.js";
import { watchSweep } from "../lib/socket.js";
import { indexCatalog, openInBuilder } from "../lib/spec.js";
import { drawCurves, drawImportance, drawObjective, drawParcoords } from "../lib/sweep-charts.js";
import { applyParams } from "../lib/sweep-space.js";
import { baseLayers, bestTrial, drawBest, drawDownloads, drawTrials, statusLine } from "../lib/sweep-view.js";

const page = JSON.parse(byId("page-data").textContent);
const root = byId("sweep-page");
const sweepId = Number(root.dataset.sweepId || (page.sweep && page.sweep.id));
const sweepUrl = `/api/sweeps/${encodeURIComponent(sweepId)}`;
const share = page.share || null;
const shared = sharing(share);   // a share link's token on every read
const ACTIVE = new Set(["running", "stopping"]);
const SHARE_TEXTS = {
  made: "Anyone with this link can watch this sweep live and open its trials' runs, read-only, without an account.",
  revoked: "Revoked: the link no longer opens this sweep or its runs, and whoever was watching through it is cut off.",
};

// What the page shows: the sweep as last fetched, its status and trials (by number) as the live events move them.
const view = { sweep: null, status: null, trials: new Map(), busy: false, awaiting: null };
let watch = null;   // the live connection, once the sweep is loaded
const stopButton = byId("stop-button");
const resumeButton = byId("resume-button");
const resumeTrials = byId("resume-trials");
const actionError = byId("action-error");

/** Make the page's status and trials those of `state`: a sweep_history, or a REST answer newer than the live events. */
function rebuild(state) {
  view.status = state.status;
  view.trials = new Map((state.trials || []).map((t) => [t.number, t]));
}

/**
 * Take a REST answer's sweep (the list's and Stop's leave the base out: the page keeps it). Its
 * status and trials replace the page's when they are newer than the last live event (its last_seq).
 */
function applySweep(sweep) {
  view.sweep = { ...(view.sweep || {}), ...sweep };
  const seen = watch ? watch.lastSeq : -1;
  if (view.status === null || (typeof sweep.last_seq === "number" && sweep.last_seq > seen)) {
    if (watch && typeof sweep.last_seq === "number") watch.skipTo(sweep.last_seq);
    rebuild(sweep);
  }
  draw();
}

/** Give the trials in number order. */
const trials = () => [...view.trials.values()].sort((a, b) => a.number - b.number);

/** Draw the parts that follow the status: badge, status line, error, buttons. */
function drawStatus() {
  const sweep = view.sweep;
  setBadge(byId("sweep-status"), view.status || "running");
  root.dataset.status = String(view.status);
  byId("sweep-line").textContent = statusLine(sweep.trials_planned, trials());
  document.title = `${statusText(view.status)} · ${sweep.name || `Sweep ${sweep.id}`} · Keras dashboard`;
  const error = byId("sweep-error");
  error.hidden = !sweep.error;
  error.textContent = sweep.error || "";
  if (view.awaiting !== view.status) view.awaiting = null;
  const waiting = view.busy || view.awaiting !== null;
  stopButton.disabled = waiting || view.status !== "running";
  const canResume = !waiting && !ACTIVE.has(view.status);
  resumeButton.disabled = !canResume;
  resumeTrials.disabled = !canResume;
}

/** Draw everything from the sweep and its trials. */
function drawNow() {
  const sweep = view.sweep;
  if (!sweep) return;
  byId("sweep-name").textContent = sweep.name || `Sweep ${sweep.id}`;
  byId("sweep-owner").textContent = sweep.owner || "—";
  byId("sweep-objective").textContent = `${sweep.objective.metric} (${sweep.objective.direction})`;
  byId("sweep-sampler").textContent = sweep.sampler || "—";
  byId("sweep-pruner").textContent = sweep.pruner || "—";
  byId("sweep-parallel").textContent = String(sweep.parallel ?? "—");
  byId("sweep-created").textContent = localTime(sweep.created_at);
  drawStatus();
  const all = trials();
  const best = bestTrial(sweep, all);
  drawTrials(byId("trials-head"), byId("trials-body"), sweep, all, best ? best.number : null, shared);
  byId("trials-table").dataset.count = String(all.length);
  drawBest({ box: byId("best"), empty: byId("best-empty"), link: byId("best-run"), value: byId("best-value"),
    params: byId("best-params") }, best, sweep, shared);
  drawObjective(byId("objective-chart"), byId("objective-empty"), all, sweep.objective);
  drawCurves(byId("curves-chart"), byId("curves-empty"), all, sweep.objective);
  drawParcoords(byId("parcoords"), byId("parcoords-empty"), sweep, all);
  drawImportance(byId("importance-chart"), byId("importance-card"), sweep.importance, baseLayers(sweep));
}

// Epoch values arrive in bursts while trials run side by side: draw at most every 200 ms.
const draw = debounce(drawNow, 200);

/** Fetch the sweep again for what the live events do not carry (the best, the importance, the plan). */
async function refresh() {
  try {
    applySweep((await getJSON(shared(sweepUrl))).sweep);
  } catch (err) {
    actionError.textContent = `Could not reload the sweep: ${err.message}`;
    actionError.hidden = false;
  }
}
const refreshSoon = debounce(refresh, 400);

/** Rebuild from a sweep_history: every trial as of its last_seq (first connection, reconnect). */
function onHistory(payload) {
  rebuild(payload);
  draw();
  refreshSoon();
}

/** Take one trial's change; an ended trial may have changed the best and the importance. */
function onTrial(payload) {
  const was = view.trials.get(payload.trial.number);
  view.trials.set(payload.trial.number, payload.trial);
  draw();
  if (TRIAL_ENDED.has(payload.trial.state) && (!was || was.state !== payload.trial.state)) refreshSoon();
}

/** Take a status change, and the sweep again (its plan, best and error). */
function onStatus(payload) {
  view.status = payload.status;
  draw();
  refreshSoon();
}

/** Show whether live updates flow. */
function onConnection(state, message) {
  const node = byId("connection");
  node.dataset.state = state;
  node.textContent = state === "connected" ? "live" : state === "refused"
    ? `live updates refused${message ? `: ${message}` : ""}` : "reconnecting…";
}

/** Send Stop or Resume; a refusal is shown under the buttons. */
async function act(path, body) {
  actionError.hidden = true;
  const before = view.status;
  view.busy = true;
  drawStatus();
  try {
    const answer = await postJSON(`${sweepUrl}/${path}`, body);
    if (view.status === before) view.awaiting = before;   // until the status moves on, no second press
    if (answer && answer.sweep) applySweep(answer.sweep);
    refreshSoon();
  } catch (err) {
    actionError.textContent = err.message;
    actionError.hidden = false;
    if (err.status === 409) refreshSoon();
  } finally {
    view.busy = false;
    if (view.sweep) drawStatus();
  }
}

/** Wire Stop, Resume and Share for the owner or an admin; remove them for anyone else. */
function wireControls() {
  if (share || !view.sweep || !mayControl(page.me, view.sweep)) {
    for (const node of document.querySelectorAll(".owner-only")) node.remove();
    const note = byId("readonly-note");
    note.hidden = false;
    note.textContent = share ? "Shared with you read-only: this link shows the sweep and its trials' runs."
      : `Read-only: only ${(view.sweep && view.sweep.owner) || "the sweep's owner"} and admins can stop, resume or `
        + "share this sweep.";
    return;
  }
  wireShare(sweepUrl, () => {}, actionError, SHARE_TEXTS);
  stopButton.addEventListener("click", () => act("stop", {}));
  wireCount(resumeButton, resumeTrials, "Resume", "trials", actionError, (trials) => act("resume", { trials }));
}

/** Open the builder on the base spec with the best trial's values (a new optimizer type keeps what it takes). */
async function openBest() {
  const best = bestTrial(view.sweep, trials());
  if (!best) return;
  let optimizers = null;
  try {
    if ("compile.optimizer.type" in (best.params || {})) {
      optimizers = indexCatalog(await getJSON("/api/layers")).optimizers;
    }
    openInBuilder(applyParams(view.sweep.base, best.params, optimizers));
  } catch (err) {
    const error = byId("open-error");
    error.textContent = `Could not open the builder: ${err.message}`;
    error.hidden = false;
  }
}

/** Load the sweep, then wire the page and follow it live. */
async function start() {
  drawDownloads(byId("artifacts"), sweepId, shared);
  try {
    applySweep(page.sweep || (await getJSON(shared(sweepUrl))).sweep);
  } catch (err) {
    actionError.textContent = `Could not load the sweep: ${err.message}`;
    actionError.hidden = false;
    return;
  }
  wireControls();
  const open = byId("open-in-builder");
  if (share) {
    // The builder and the runs list need an account: a share link's visitor gets neither.
    open.remove();
    byId("back-to-runs").closest("p").remove();
  } else {
    open.addEventListener("click", openBest);
  }
  drawNow();
  watch = watchSweep(sweepId, { onHistory, onTrial, onStatus, onConnection }, share ? { auth: { share } } : {});
  window.addEventListener("pagehide", () => watch.close());
}

start();
