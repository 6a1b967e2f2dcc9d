// The runs list: every run with its owner, status and final metrics; filter by owner, status,
// dataset and name, sort by any final metric, pick runs to compare. The filters live in the
// address, so a reload or a shared address shows the same list. While any run shown is queued,
// running or stopping, the list asks again every few seconds. The sweeps follow in a card of their own.

import { getJSON } from "../lib/api.js";
import { byId, debounce, el, replaceChildren } from "../lib/dom.js";
import { ACTIVE, TRIAL_ENDED, lastValue, localTime, metric, statusBadge, statusText } from "../lib/run-format.js";

const REFRESH_MS = 3000;
const METRICS = ["loss", "accuracy", "val_loss", "val_accuracy"];
const STATUSES = ["queued", "running", "stopping", "completed", "stopped", "failed", "interrupted"];
const FILTERS = ["owner", "status", "dataset", "q", "sort", "order"];
const page = JSON.parse(byId("page-data").textContent);
const body = byId("runs-body");
const fields = {
  owner: byId("filter-owner"), status: byId("filter-status"), dataset: byId("filter-dataset"),
  q: byId("filter-q"), sort: byId("sort-key"), order: byId("sort-order"),
};
const picked = [];   // ids of the runs ticked for Compare, in the order they were ticked
const seen = { owner: new Set(), dataset: new Set(), sort: new Set() };   // what the selects offer
let timer = null;
let request = 0;   // only the latest answer draws
let sweepsTimer = null;

/** Give "3/4": epochs done of epochs planned. */
function epochsText(run) {
  const planned = run.epochs_planned || (run.spec && run.spec.fit && run.spec.fit.epochs);
  return planned ? `${run.epochs_done || 0}/${planned}` : String(run.epochs_done || 0);
}

/** Give the last epoch's value of a metric: the list gives `final`, a full run its history. */
function finalValue(run, key) {
  return run.final && key in run.final ? run.final[key] : lastValue(run.history, key);
}

/** Give the metric columns: the usual four, and the sort key when it is another one. */
function metricColumns() {
  const key = fields.sort.value;
  return key && key !== "created" && !METRICS.includes(key) ? [...METRICS, key] : METRICS;
}

/** Give the current filters as {name: value} without the empty ones. */
function filters() {
  const out = {};
  for (const name of FILTERS) {
    const value = fields[name].value.trim();
    if (value && !(name === "sort" && value === "created") && !(name === "order" && value === "desc")) out[name] = value;
  }
  return out;
}

/** Fill a select with "any" and the values seen so far, keeping what is chosen. */
function fillSelect(select, anyText, values, textOf = String) {
  const chosen = select.value;
  const all = [...new Set([...values, ...(chosen ? [chosen] : [])])].sort();
  replaceChildren(select, el("option", { value: "", text: anyText }),
    all.map((v) => el("option", { value: v, text: textOf(v), selected: v === chosen })));
}

/** Offer every owner, dataset and final metric key met in the runs so far. */
function fillOptions(runs) {
  for (const run of runs) {
    if (run.owner) seen.owner.add(run.owner);
    if (run.dataset) seen.dataset.add(run.dataset);
    for (const key of Object.keys(run.final || {})) seen.sort.add(key);
  }
  fillSelect(fields.owner, "Anyone", seen.owner);
  fillSelect(fields.dataset, "Any dataset", seen.dataset);
  const chosen = fields.sort.value;
  const keys = [...new Set([...seen.sort, ...(chosen && chosen !== "created" ? [chosen] : [])])].sort();
  replaceChildren(fields.sort, el("option", { value: "created", text: "Created" }),
    keys.map((k) => el("option", { value: k, text: `final ${k}`, selected: k === chosen })));
  labelOrder();
}

/** Word the order select for the sort key: newest/oldest first, or highest/lowest first. */
function labelOrder() {
  const byTime = fields.sort.value === "created" || !fields.sort.value;
  fields.order.options[0].text = byTime ? "newest first" : "highest first";
  fields.order.options[1].text = byTime ? "oldest first" : "lowest first";
}

/** Give one table row for a run. */
function row(run) {
  const href = `/runs/${encodeURIComponent(run.id)}`;
  const tick = el("input", { type: "checkbox", class: "pick-run", "aria-label": `Pick ${run.name || `run ${run.id}`} to compare`,
    checked: picked.includes(run.id), dataset: { runId: String(run.id) } });
  tick.addEventListener("change", () => {
    const at = picked.indexOf(run.id);
    if (tick.checked && at < 0) picked.push(run.id);
    if (!tick.checked && at >= 0) picked.splice(at, 1);
    tick.closest("tr").classList.toggle("picked", tick.checked);
    drawCompare();
  });
  return el("tr", { class: picked.includes(run.id) ? "picked" : "", dataset: { runId: String(run.id), status: String(run.status) } },
    el("td", { class: "pick" }, tick),
    el("td", { class: "num mono", text: String(run.id) }),
    el("td", { class: "run-name" }, el("a", { href, text: run.name || `Run ${run.id}` })),
    el("td", { dataset: { col: "owner" }, text: run.owner || "—" }),
    el("td", { dataset: { col: "dataset" }, text: run.dataset || "—" }),
    el("td", {}, statusBadge(run.status)),
    el("td", { class: "num mono", dataset: { col: "epochs" }, text: epochsText(run) }),
    metricColumns().map((key) => el("td", { class: "num mono", dataset: { col: key }, text: metric(finalValue(run, key)) })),
    el("td", { class: "created", text: localTime(run.created_at) }));
}

/** Draw the header: the metric columns follow the sort key. */
function drawHead() {
  const sorted = fields.sort.value;
  replaceChildren(byId("runs-head"), el("th", { class: "pick" }, el("span", { class: "muted", text: "✓", title: "Pick to compare" })),
    el("th", { class: "num", text: "#" }), el("th", { text: "Name" }), el("th", { text: "Owner" }), el("th", { text: "Dataset" }),
    el("th", { text: "Status" }), el("th", { class: "num", text: "Epochs" }),
    metricColumns().map((key) => el("th", { class: `num${key === sorted ? " sorted" : ""}`, text: key })),
    el("th", { class: sorted === "created" ? "sorted" : "", text: "Created" }));
}

/** Enable Compare once two runs are ticked. */
function drawCompare() {
  const button = byId("compare-button");
  button.disabled = picked.length < 2;
  button.textContent = picked.length ? `Compare ${picked.length} runs` : "Compare";
  button.title = picked.length < 2 ? "Tick two or more runs to compare them." : "";
}

/** Draw the table from the runs, in the order the API gives them. */
function draw(runs) {
  fillOptions(runs);
  drawHead();
  replaceChildren(body, runs.map(row));
  const filtered = Object.keys(filters()).some((k) => !["sort", "order"].includes(k));
  const empty = byId("runs-empty");
  empty.hidden = runs.length > 0;
  empty.textContent = filtered ? "No runs match these filters." : "No runs yet. Build a model and press Train: its run shows up here.";
  byId("runs-table").hidden = runs.length === 0;
  byId("runs-table").dataset.count = String(runs.length);
  drawCompare();
  const moving = runs.some((r) => ACTIVE.has(r.status));
  byId("runs-refresh").textContent = moving ? "updating every few seconds" : "";
  clearTimeout(timer);
  if (moving) timer = setTimeout(refresh, REFRESH_MS);
}

/** Ask for the list (filtered and sorted) again and redraw; on failure, say so and try again later. */
async function refresh() {
  const error = byId("runs-error");
  const mine = ++request;
  try {
    const { runs } = await getJSON(`/api/runs?${new URLSearchParams(filters())}`);
    if (mine !== request) return;
    error.hidden = true;
    draw(runs || []);
  } catch (err) {
    if (mine !== request) return;
    error.textContent = `Could not load the runs: ${err.message}`;
    error.hidden = false;
    clearTimeout(timer);
    timer = setTimeout(refresh, REFRESH_MS * 2);
  }
}

/** Give one row of the sweeps table: name linked to its page, status, trials done of planned, best value. */
function sweepRow(sweep) {
  const done = (sweep.trials || []).filter((t) => TRIAL_ENDED.has(t.state)).length;
  const best = sweep.best && typeof sweep.best.value === "number" ? sweep.best.value : null;
  const objective = sweep.objective || {};
  return el("tr", { dataset: { sweepId: String(sweep.id), status: String(sweep.status) } },
    el("td", { class: "num mono", text: String(sweep.id) }),
    el("td", { class: "run-name" }, el("a", { href: `/sweeps/${encodeURIComponent(sweep.id)}`, text: sweep.name || `Sweep ${sweep.id}` })),
    el("td", { text: sweep.owner || "—" }),
    el("td", {}, statusBadge(sweep.status)),
    el("td", { class: "num mono", dataset: { col: "trials" }, text: `${done}/${sweep.trials_planned ?? "?"}` }),
    el("td", { class: "mono", text: objective.metric ? `${objective.metric} (${objective.direction === "minimize" ? "min" : "max"})` : "—" }),
    el("td", { class: "num mono", dataset: { col: "best" }, text: metric(best) }),
    el("td", { class: "created", text: localTime(sweep.created_at) }));
}

/** Ask for the sweeps and draw them; ask again every few seconds while one runs. */
async function refreshSweeps() {
  const error = byId("sweeps-error");
  try {
    const { sweeps } = await getJSON("/api/sweeps");
    error.hidden = true;
    replaceChildren(byId("sweeps-body"), (sweeps || []).map(sweepRow));
    byId("sweeps-table").hidden = !sweeps.length;
    byId("sweeps-table").dataset.count = String(sweeps.length);
    byId("sweeps-empty").hidden = sweeps.length > 0;
    const moving = sweeps.some((s) => s.status === "running" || s.status === "stopping");
    byId("sweeps-refresh").textContent = moving ? "updating every few seconds" : "";
    clearTimeout(sweepsTimer);
    if (moving) sweepsTimer = setTimeout(refreshSweeps, REFRESH_MS);
  } catch (err) {
    error.textContent = `Could not load the sweeps: ${err.message}`;
    error.hidden = false;
  }
}

/** Put the filters in the address and fetch the list they give. */
function applyFilters() {
  const query = new URLSearchParams(filters()).toString();
  window.history.replaceState(null, "", query ? `/runs?${query}` : "/runs");
  refresh();
}

/** Set the filters from the address (a reload, or a link someone sent). */
function readAddress() {
  const q = new URLSearchParams(window.location.search);
  replaceChildren(fields.status, el("option", { value: "", text: "Any status" }),
    STATUSES.map((s) => el("option", { value: s, text: statusText(s) })));
  for (const name of ["owner", "dataset"]) if (q.get(name)) seen[name].add(q.get(name));
  if (q.get("sort") && q.get("sort") !== "created") seen.sort.add(q.get("sort"));
  fillOptions(page.runs || []);   // every run (the page's list is unfiltered): all owners, datasets, metrics
  for (const name of FILTERS) if (q.get(name)) fields[name].value = q.get(name);
  labelOrder();
  return FILTERS.some((name) => q.get(name));
}

for (const name of ["owner", "status", "dataset", "order"]) fields[name].addEventListener("change", applyFilters);
fields.sort.addEventListener("change", () => {
  // Lower is better for a loss or an error: show the best first.
  const key = fields.sort.value;
  fields.order.value = key !== "created" && /loss|error|mae|mse|mape|msle/.test(key) ? "asc" : "desc";
  labelOrder();
  applyFilters();
});
fields.q.addEventListener("input", debounce(applyFilters, 250));
byId("runs-filters").addEventListener("submit", (event) => { event.preventDefault(); applyFilters(); });
byId("compare-button").addEventListener("click", () => {
  if (picked.length >= 2) window.location.assign(`/compare?runs=${picked.join(",")}`);
});
// Back from a run page through the browser cache: the list may be stale.
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  refresh();
  refreshSweeps();
});

const filteredAtStart = readAddress();
if (Array.isArray(page.runs) && !filteredAtStart) draw(page.runs);
else refresh();
refreshSweeps();
