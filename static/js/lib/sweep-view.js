// Pieces of the sweep page that draw one thing each from plain data: the status line, the trials
// table, the best trial and the downloads. They touch only the nodes they are given.

import { el, replaceChildren } from "./dom.js";
import { TRIAL_ENDED, metric, statusBadge } from "./run-format.js";
import { better, completeTrials } from "./sweep-charts.js";
import { pathLabel } from "./sweep-space.js";

const COUNTED = ["complete", "pruned", "failed", "stopped", "running", "queued"];

/** Give a sampled value as it reads in a table: 64, 0.00123, 1.2e-5, relu. */
export function paramText(value) {
  if (typeof value !== "number") return value === null || value === undefined ? "—" : String(value);
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) < 1e-3 ? value.toExponential(2).replace(/\.?0+e/, "e") : String(Number(value.toPrecision(4)));
}

/** Give the sweep's base layers (for the fields' labels). */
export function baseLayers(sweep) {
  return sweep.base && sweep.base.model ? sweep.base.model.layers : [];
}

/** Give "4 of 6 trials done: 3 complete, 1 pruned · 2 running". */
export function statusLine(planned, trials) {
  const counts = Object.fromEntries(COUNTED.map((s) => [s, trials.filter((t) => t.state === s).length]));
  const done = trials.filter((t) => TRIAL_ENDED.has(t.state)).length;
  const ended = ["complete", "pruned", "failed", "stopped"].filter((s) => counts[s]).map((s) => `${counts[s]} ${s}`);
  const moving = ["running", "queued"].filter((s) => counts[s]).map((s) => `${counts[s]} ${s}`);
  return `${done} of ${planned || trials.length} trials done${ended.length ? `: ${ended.join(", ")}` : ""}`
    + `${moving.length ? ` · ${moving.join(", ")}` : ""}`;
}

/** Give the best trial: the server's, or a better one finished since it answered; null before any. */
export function bestTrial(sweep, trials) {
  const beats = better(sweep.objective.direction);
  let best = sweep.best && typeof sweep.best.value === "number" ? sweep.best : null;
  for (const t of completeTrials(trials)) {
    if (!best || beats(t.value, best.value)) best = { number: t.number, run_id: t.run_id, value: t.value, params: t.params };
  }
  if (best && best.run_id === null) {
    const trial = trials.find((t) => t.number === best.number);
    if (trial) best = { ...best, run_id: trial.run_id };
  }
  return best;
}

/** Give a trial's number linked to its run (through `shared`: a share link's token), or alone before its run exists. */
function runLink(trial, shared) {
  const text = String(trial.number);
  if (trial.run_id === null || trial.run_id === undefined) return el("span", { class: "mono", text });
  return el("a", { href: shared(`/runs/${encodeURIComponent(trial.run_id)}`), class: "mono", title: `Run ${trial.run_id}`, text });
}

/**
 * Draw the trials table: number (linked to its run), state, each searched field, the objective and the epochs.
 *
 * Args: head, body (the table's <tr> and <tbody>); sweep; trials; bestNumber (its row is marked);
 * shared: gives a run's URL with the page's share token (api.js's sharing).
 */
export function drawTrials(head, body, sweep, trials, bestNumber, shared) {
  const paths = Object.keys(sweep.space || {});
  const layers = baseLayers(sweep);
  replaceChildren(head, el("th", { class: "num", text: "#" }), el("th", { text: "State" }),
    paths.map((p) => el("th", { class: "num mono", title: p, dataset: { path: p }, text: pathLabel(p, layers) })),
    el("th", { class: "num", text: sweep.objective.metric }), el("th", { class: "num", text: "Epochs" }));
  const rows = [...trials].sort((a, b) => a.number - b.number).map((t) => el("tr", {
    class: t.number === bestNumber ? "best" : "",
    dataset: { number: String(t.number), state: String(t.state), runId: t.run_id === null ? "" : String(t.run_id) },
  },
  el("td", { class: "num" }, runLink(t, shared)),
  el("td", { title: t.error || null }, statusBadge(t.state)),   // why a trial failed, on hover
  paths.map((p) => el("td", { class: "num mono", dataset: { path: p }, text: paramText((t.params || {})[p]) })),
  el("td", { class: "num mono", dataset: { col: "value" }, text: metric(t.value) }),
  el("td", { class: "num mono", text: `${(t.curve || []).length}/${t.epochs_planned || "?"}` })));
  replaceChildren(body, rows.length ? rows
    : el("tr", {}, el("td", { colspan: paths.length + 4, class: "muted", text: "The first trials are being queued…" })));
}

/**
 * Draw the best trial: its number linked to its run, its value and its params; `parts` are
 * {box, empty, link, value, params} nodes; `shared` as drawTrials's.
 */
export function drawBest(parts, best, sweep, shared) {
  parts.box.hidden = !best;
  parts.empty.hidden = Boolean(best);
  if (!best) return;
  parts.link.textContent = best.run_id === null ? `Trial ${best.number}` : `Trial ${best.number} · run ${best.run_id}`;
  if (best.run_id !== null) parts.link.href = shared(`/runs/${encodeURIComponent(best.run_id)}`);
  else parts.link.removeAttribute("href");
  parts.link.dataset.number = String(best.number);
  parts.value.textContent = `${sweep.objective.metric} ${metric(best.value)}`;
  const layers = baseLayers(sweep);
  replaceChildren(parts.params, Object.entries(best.params || {}).map(([path, value]) => el("div", { dataset: { path } },
    el("dt", { title: path, text: pathLabel(path, layers) }), el("dd", { class: "mono", text: paramText(value) }))));
}

const DOWNLOADS = [
  ["trials.csv", "one row per trial: its params, state and value"],
  ["sweep.py", "an Optuna script that runs this sweep without the dashboard"],
];

/** Fill the downloads list with /api/sweeps/ID/artifacts/NAME (with the share token when there is one). */
export function drawDownloads(list, sweepId, shared) {
  replaceChildren(list, DOWNLOADS.map(([name, note]) => el("li", { dataset: { artifact: name } },
    el("a", { href: shared(`/api/sweeps/${encodeURIComponent(sweepId)}/artifacts/${name}`), download: name,
      class: "mono", text: name }),
    el("span", { class: "muted", text: ` — ${note}` }))));
}
