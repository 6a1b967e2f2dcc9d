// Plotly charts of a sweep: the objective per trial with the best so far, the parallel coordinates
// of the searched fields and the objective, each trial's curve (a pruned one dashed and ending in ✕)
// and the importance of each field. Each is drawn afresh with Plotly.react from the sweep and its
// trials; an empty chart gives way to a note. Names reach Plotly only through plotlyText.

import { CONFIG, epochLayout, xRange } from "./charts.js";
import { plotlyText } from "./plotly-text.js";
import { pathLabel } from "./sweep-space.js";

const COLORS = ["#2f5bd3", "#e07b00", "#1e9e5a", "#c0262d", "#7b4fbb", "#0f9bb0", "#a6761d", "#d6409f", "#4d5b69", "#8cad00"];
const BEST_COLOR = "#e07b00";
const PRUNED_COLOR = "#8b949e";
const HEIGHT = 300;   // as app.css's .sweep-chart .chart; the parallel coordinates get 60 more

/** Give the global Plotly (base.html loads it for a page that sets plotly = true). */
function plotly() {
  if (!window.Plotly) throw new Error("Plotly is not loaded: /vendor/plotly.min.js must come before this module");
  return window.Plotly;
}

/** Give the trials that finished with a value, in trial order. */
export function completeTrials(trials) {
  return trials.filter((t) => t.state === "complete" && typeof t.value === "number").sort((a, b) => a.number - b.number);
}

/** Give `better(a, b)`: whether value a beats b in this direction. */
export function better(direction) {
  return direction === "minimize" ? (a, b) => a < b : (a, b) => a > b;
}

/** Draw `traces` into `node`, or purge it and show its note when there is nothing to draw. */
function show(node, note, traces, layout) {
  note.hidden = traces.length > 0;
  node.hidden = traces.length === 0;
  if (traces.length) plotly().react(node, traces, layout, CONFIG);
  else plotly().purge(node);
}

/** Give the layout of a chart with trials (numbered from 0) along x, whole numbers on its ticks. */
function trialLayout(metric, last) {
  const layout = epochLayout({ title: `${metric} per trial`, yTitle: metric, range: [0, 1], height: HEIGHT });
  const few = last < 12;
  layout.xaxis = { ...layout.xaxis, title: { text: "trial" }, tickmode: few ? "linear" : "auto", tick0: 0,
    dtick: few ? 1 : undefined, tickformat: "d", range: [-0.5, Math.max(last, 1) + 0.5], autorange: false };
  layout.hovermode = "closest";
  return layout;
}

/** Draw each finished trial's objective over its number, pruned ones as ✕, and the best so far as a step line. */
export function drawObjective(node, note, trials, objective) {
  const done = completeTrials(trials);
  const pruned = trials.filter((t) => t.state === "pruned" && typeof t.value === "number");
  const beats = better(objective.direction);
  let best = null;
  const bestSoFar = done.map((t) => {
    if (best === null || beats(t.value, best)) best = t.value;
    return best;
  });
  const metric = plotlyText(objective.metric);
  const traces = done.length || pruned.length ? [
    { name: "trial", x: done.map((t) => t.number), y: done.map((t) => t.value), mode: "markers", type: "scatter",
      marker: { color: COLORS[0], size: 9 }, hovertemplate: `trial %{x}<br>${metric} %{y:.4~g}<extra></extra>` },
    { name: "pruned", x: pruned.map((t) => t.number), y: pruned.map((t) => t.value), mode: "markers", type: "scatter",
      marker: { color: PRUNED_COLOR, size: 9, symbol: "x" },
      hovertemplate: `trial %{x} (pruned)<br>${metric} %{y:.4~g}<extra></extra>` },
    { name: "best so far", x: done.map((t) => t.number), y: bestSoFar, mode: "lines", type: "scatter",
      line: { color: BEST_COLOR, width: 2, shape: "hv" }, hoverinfo: "skip" },
  ] : [];
  show(node, note, traces, trialLayout(objective.metric, Math.max(0, ...trials.map((t) => t.number))));
  node.dataset.points = String(done.length);
}

/** Give the tick values and texts of a log axis: the powers of ten between lo and hi (log10), or its ends. */
function logTicks(lo, hi) {
  const powers = [];
  for (let e = Math.ceil(lo); e <= Math.floor(hi); e += 1) powers.push(e);
  const vals = powers.length >= 2 ? powers : [lo, hi];
  return { tickvals: vals, ticktext: vals.map((v) => Number((10 ** v).toPrecision(2)).toExponential().replace("e+", "e")) };
}

/** Give a parallel-coordinates dimension for one searched field: categorical as tick text, log as powers of ten. */
function dimension(path, field, done, layers) {
  const label = plotlyText(pathLabel(path, layers));
  const values = done.map((t) => t.params[path]);
  if (field.type === "categorical") {
    const choices = (field.choices || []).map(String);
    const at = values.map((v) => choices.indexOf(String(v)));
    const top = Math.max(choices.length - 1, 1);
    return { label, values: at, range: [0, top], tickvals: choices.map((_, i) => i), ticktext: choices.map(plotlyText) };
  }
  if (field.log && field.low > 0 && field.high > 0) {
    const lo = Math.log10(field.low);
    const hi = Math.log10(field.high);
    return { label: `${label} (log)`, values: values.map((v) => Math.log10(v)), range: [lo, hi], ...logTicks(lo, hi) };
  }
  return { label, values, range: [field.low, field.high] };
}

/**
 * Free the WebGL contexts a parcoords plot holds. Plotly makes new ones on every draw of the trace and
 * leaves the old ones to the garbage collector; the browser allows ~16 at once and then drops the
 * oldest, after which Plotly shows "WebGL is not supported" instead of the lines.
 */
function releaseGl(node) {
  for (const canvas of node.querySelectorAll("canvas")) {
    const gl = canvas.getContext("webgl");
    const lose = gl && gl.getExtension("WEBGL_lose_context");
    if (lose) lose.loseContext();
  }
}

/**
 * Draw the parallel coordinates: one axis per searched field, the objective last, one line per
 * complete trial. They change only when a trial completes: other redraws leave the plot (and its
 * WebGL contexts) as they are.
 */
export function drawParcoords(node, note, sweep, trials) {
  const done = completeTrials(trials);
  const layers = sweep.base && sweep.base.model ? sweep.base.model.layers : [];
  const space = sweep.space || {};
  const values = done.map((t) => t.value);
  const dimensions = [...Object.keys(space).map((path) => dimension(path, space[path], done, layers)),
    { label: plotlyText(sweep.objective.metric), values }];
  const traces = done.length ? [{
    type: "parcoords", dimensions,
    line: { color: values, colorscale: "Viridis", reversescale: sweep.objective.direction === "minimize", showscale: true,
      colorbar: { title: { text: plotlyText(sweep.objective.metric), side: "right" }, thickness: 12 } },
    labelangle: 0, labelside: "top",
  }] : [];
  const key = JSON.stringify(traces);
  if (node.dataset.drawn === key) return;
  releaseGl(node);
  plotly().purge(node);
  show(node, note, traces, { height: HEIGHT + 60, margin: { l: 60, r: 70, t: 60, b: 24 },
    font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#1d2329" } });
  node.dataset.drawn = key;
  node.dataset.lines = String(done.length);
}

/** Give one trial's curve as a trace: complete solid, running thin, pruned dashed ending in ✕, failed dotted. */
function curveTrace(trial, metric) {
  const color = trial.state === "pruned" ? PRUNED_COLOR : COLORS[trial.number % COLORS.length];
  const n = trial.curve.length;
  const cut = trial.state === "pruned";
  return {
    type: "scatter", name: `trial ${trial.number}`, x: trial.curve.map((_, i) => i + 1), y: [...trial.curve],
    mode: "lines+markers",
    line: { color, width: trial.state === "running" ? 1.5 : 2,
      dash: cut ? "dash" : trial.state === "failed" || trial.state === "stopped" ? "dot" : "solid" },
    marker: { color, symbol: trial.curve.map((_, i) => (cut && i === n - 1 ? "x" : "circle")),
      size: trial.curve.map((_, i) => (cut && i === n - 1 ? 12 : 6)) },
    meta: [trial.number, trial.state],
    hovertemplate: `trial %{meta[0]} (%{meta[1]})<br>epoch %{x}<br>${plotlyText(metric)} %{y:.4~g}<extra></extra>`,
  };
}

/** Draw every trial's objective per epoch; the x axis shows the longest plan. */
export function drawCurves(node, note, trials, objective) {
  const drawn = [...trials].filter((t) => (t.curve || []).length).sort((a, b) => a.number - b.number);
  const last = Math.max(1, ...trials.map((t) => t.epochs_planned || 0), ...drawn.map((t) => t.curve.length));
  const layout = epochLayout({ title: `${objective.metric} per epoch`, yTitle: objective.metric, range: xRange(last),
    height: HEIGHT, showLegend: drawn.length <= 12 });
  layout.hovermode = "closest";
  show(node, note, drawn.map((t) => curveTrace(t, objective.metric)), layout);
  node.dataset.curves = String(drawn.length);
  node.dataset.pruned = String(drawn.filter((t) => t.state === "pruned").length);
}

/** Draw how much each searched field mattered (Optuna's importance, shares of 1); the card hides without it. */
export function drawImportance(node, card, importance, layers) {
  card.hidden = !importance || !Object.keys(importance).length;
  if (card.hidden) {
    plotly().purge(node);
    return;
  }
  const rows = Object.entries(importance).sort((a, b) => a[1] - b[1]);   // Plotly draws the first bar lowest
  const traces = [{
    type: "bar", orientation: "h", x: rows.map(([, share]) => share), y: rows.map(([path]) => plotlyText(pathLabel(path, layers))),
    marker: { color: COLORS[0] }, text: rows.map(([, share]) => `${Math.round(share * 100)}%`), textposition: "auto",
    hovertemplate: "%{y}: %{x:.1%}<extra></extra>",
  }];
  plotly().react(node, traces, {
    height: Math.max(160, 60 + 32 * rows.length), margin: { l: 140, r: 16, t: 12, b: 36 },
    xaxis: { range: [0, 1], tickformat: ".0%", gridcolor: "#eceef1" }, yaxis: { automargin: true },
    font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#1d2329" },
  }, CONFIG);
  node.dataset.fields = String(rows.length);
}
