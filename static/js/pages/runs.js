// The runs list: every run, newest first, with its status and final metrics. While any run is
// queued, running or stopping, the list asks again every few seconds.

import { getJSON } from "../lib/api.js";
import { byId, el, replaceChildren } from "../lib/dom.js";
import { ACTIVE, lastValue, localTime, metric, statusBadge } from "../lib/run-format.js";

const REFRESH_MS = 3000;
const METRICS = ["loss", "accuracy", "val_loss", "val_accuracy"];
const page = JSON.parse(byId("page-data").textContent);
const body = byId("runs-body");
let timer = null;

/** Give "3/4": epochs done of epochs planned. */
function epochsText(run) {
  const planned = run.epochs_planned || (run.spec && run.spec.fit && run.spec.fit.epochs);
  return planned ? `${run.epochs_done || 0}/${planned}` : String(run.epochs_done || 0);
}

/** Give the last epoch's value of a metric: the list gives `final`, a full run its history. */
function finalValue(run, key) {
  return run.final && key in run.final ? run.final[key] : lastValue(run.history, key);
}

/** Give one table row for a run. */
function row(run) {
  const href = `/runs/${encodeURIComponent(run.id)}`;
  return el("tr", { dataset: { runId: String(run.id), status: String(run.status) } },
    el("td", { class: "num mono", text: String(run.id) }),
    el("td", { class: "run-name" }, el("a", { href, text: run.name || `Run ${run.id}` })),
    el("td", { text: run.dataset || "—" }),
    el("td", {}, statusBadge(run.status)),
    el("td", { class: "num mono", dataset: { col: "epochs" }, text: epochsText(run) }),
    METRICS.map((key) => el("td", { class: "num mono", dataset: { col: key }, text: metric(finalValue(run, key)) })),
    el("td", { class: "created", text: localTime(run.created_at) }));
}

/** Draw the table from the runs (newest first, as the API gives them). */
function draw(runs) {
  replaceChildren(body, runs.map(row));
  byId("runs-empty").hidden = runs.length > 0;
  byId("runs-table").hidden = runs.length === 0;
  const moving = runs.some((r) => ACTIVE.has(r.status));
  byId("runs-refresh").textContent = moving ? "updating every few seconds" : "";
  clearTimeout(timer);
  if (moving) timer = setTimeout(refresh, REFRESH_MS);
}

/** Ask for the list again and redraw; on failure, say so and try again later. */
async function refresh() {
  const error = byId("runs-error");
  try {
    const { runs } = await getJSON("/api/runs");
    error.hidden = true;
    draw(runs || []);
  } catch (err) {
    error.textContent = `Could not load the runs: ${err.message}`;
    error.hidden = false;
    clearTimeout(timer);
    timer = setTimeout(refresh, REFRESH_MS * 2);
  }
}

// Back from a run page through the browser cache: the list may be stale.
window.addEventListener("pageshow", (event) => { if (event.persisted) refresh(); });

if (Array.isArray(page.runs)) draw(page.runs);
else refresh();
