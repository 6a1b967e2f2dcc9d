// Plotly charts of a run's history: one chart per metric, training and validation on the same
// axes, epoch (from 1) along x. Drawn once from the history, then extended with
// Plotly.extendTraces as epochs finish. Plotly is the global that /vendor/plotly.min.js defines.

import { plotlyText } from "./plotly-text.js";

const TRAIN_COLOR = "#2f5bd3";
const VAL_COLOR = "#e07b00";
const LR_COLOR = "#6b4fbb";
const CHART_HEIGHT = 260;   // fixed, so a chart appearing or growing never moves the page
const ALONE = new Set(["learning_rate", "lr"]);
const ACRONYMS = new Set(["auc", "mae", "mse", "rmse", "mape", "msle", "iou", "kl"]);
const MARKERS_UP_TO = 40;   // epochs on the axis; past that, dots crowd the line
// A fit this long or shorter shows all its epochs from the start; a longer one's axis grows with
// the run in steps (10, 20, 50, 100, ...), so its first points are not squeezed into a corner.
const WHOLE_FIT_UP_TO = 50;

/** Give the global Plotly, or throw a clear error when its script did not load. */
function plotly() {
  if (!window.Plotly) throw new Error("Plotly is not loaded: /vendor/plotly.min.js must come before this module");
  return window.Plotly;
}

/** Give a chart title for a Keras log key: "val_loss" -> "Validation loss", "learning_rate" -> "Learning rate". */
export function metricTitle(key) {
  const words = key.replace(/^val_/, "").split("_").map((w) => (ACRONYMS.has(w) ? w.toUpperCase() : w));
  const text = words.join(" ");
  const title = text.charAt(0).toUpperCase() + text.slice(1);
  return key.startsWith("val_") ? `Validation ${text}` : title;
}

/**
 * Give the charts for these history keys, in the order a reader wants them: loss first, then
 * accuracy, the other metrics, and learning_rate last. Each is {id, title, keys}: a metric and its
 * val_ twin share one chart; learning_rate (and a val_ key without a twin) stands alone.
 */
export function metricGroups(keys) {
  const present = new Set(keys);
  const groups = [];
  for (const key of keys) {
    if (key.startsWith("val_") && present.has(key.slice(4))) continue;   // drawn with its twin
    const twin = `val_${key}`;
    const members = !ALONE.has(key) && present.has(twin) ? [key, twin] : [key];
    groups.push({ id: key, title: metricTitle(key), keys: members });
  }
  const rank = (g) => (g.id === "loss" ? 0 : g.id === "accuracy" ? 1 : ALONE.has(g.id) ? 3 : 2);
  return groups.sort((a, b) => rank(a) - rank(b));   // stable: others keep the history's order
}

/** Give a trace's mode: dots on the line while the axis shows few epochs (a lone first point too). */
export function traceMode(shown) {
  return shown <= MARKERS_UP_TO ? "lines+markers" : "lines";
}

/** Give a trace's look: training blue, validation orange, learning rate purple and stepped. */
function traceStyle(key, shown) {
  const color = ALONE.has(key) ? LR_COLOR : key.startsWith("val_") ? VAL_COLOR : TRAIN_COLOR;
  return {
    name: key.startsWith("val_") ? "validation" : ALONE.has(key) ? plotlyText(key) : "training",
    mode: traceMode(shown),
    line: { color, width: 2, shape: ALONE.has(key) ? "hv" : "linear" },
    marker: { color, size: 6 },
    hovertemplate: `epoch %{x}<br>${plotlyText(key)} %{y:.4~g}<extra></extra>`,
  };
}

/** Give the last epoch the x axis shows: the whole fit when it is short, else the next step past `done`. */
function shownEpochs(planned, done) {
  if (!planned || planned <= WHOLE_FIT_UP_TO) return Math.max(planned || 0, done, 1);
  for (let step = 10; ; step *= 10) {
    for (const n of [step, 2 * step, 5 * step]) if (n >= done) return Math.max(done, Math.min(planned, n));
  }
}

/** Give the x range that shows epochs 1..last with a little room at both ends. */
export function xRange(last) {
  const pad = Math.max(0.3, last / 50);
  return [1 - pad, last + pad];
}

/** Give a whole-epoch tick step that puts at most a dozen ticks on the axis: 1, 2, 5, 10, 20, ... */
function tickStep(range) {
  const span = range[1] - range[0];
  for (let step = 1; ; step *= 10) {
    for (const s of [step, 2 * step, 5 * step]) if (span / s <= 12) return s;
  }
}

/** Give the x axis changes for a new range: the range and its whole-epoch ticks (1, 2, 3 or 5, 10, 15). */
function xAxis(range) {
  const step = tickStep(range);
  return { "xaxis.range": range, "xaxis.dtick": step, "xaxis.tick0": step === 1 ? 1 : 0 };
}

/**
 * Give the layout every epoch chart shares (a run's charts, the compare page's): fixed height,
 * titled axes, whole-epoch ticks along x, the legend above the plot.
 *
 * Args: title, yTitle (text, as Plotly shows it); range (xRange); fromZero: the y axis starts at 0;
 * showLegend; height in px.
 */
export function epochLayout({ title, yTitle, range, fromZero = false, showLegend = true, height = CHART_HEIGHT }) {
  return {
    height,
    margin: { l: 58, r: 14, t: 36, b: 44 },
    title: { text: plotlyText(title), font: { size: 14 }, x: 0.01, xanchor: "left", y: 0.97 },
    font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#1d2329" },
    paper_bgcolor: "#ffffff",
    plot_bgcolor: "#ffffff",
    xaxis: {
      title: { text: "epoch" }, range, tickmode: "linear", tick0: tickStep(range) === 1 ? 1 : 0, dtick: tickStep(range),
      gridcolor: "#eceef1", zeroline: false, showline: true, linecolor: "#c4cad2",
    },
    yaxis: {
      // A set standoff makes automargin leave room for the title beside long ticks (0.0008).
      title: { text: plotlyText(yTitle), standoff: 8 }, autorange: true, rangemode: fromZero ? "tozero" : "normal",
      gridcolor: "#eceef1", zeroline: false, showline: true, linecolor: "#c4cad2", automargin: true,
    },
    showlegend: showLegend,
    legend: { orientation: "h", x: 1, xanchor: "right", y: 1.14, yanchor: "bottom", font: { size: 11.5 } },
    hovermode: "x unified",
  };
}

/** Give a run chart's layout; loss and learning rate from zero: a constant rate then reads as a flat line, not noise. */
function layout(group, range, pins = []) {
  return { ...epochLayout({ title: group.title, yTitle: group.id, range, fromZero: group.id === "loss" || ALONE.has(group.id),
    showLegend: group.keys.length > 1 }), ...pinLayout(pins) };
}

const PIN_COLORS = { nan: "#c62828", exploding: "#d84315", vanishing: "#8e6c00", dead_relu: "#6b4fbb", fine_tune: "#1565c0" };
const PIN_MARKS = { fine_tune: "fine-tuning" };

/**
 * Give the shapes and annotations that pin warnings to a chart: a dashed line at each pin's x and a
 * mark above it whose hover text is the warning. pins: [{x (epochs, fractional), kind, text}].
 */
export function pinLayout(pins) {
  return {
    shapes: pins.map((p) => ({ type: "line", xref: "x", yref: "paper", x0: p.x, x1: p.x, y0: 0, y1: 1,
      line: { color: PIN_COLORS[p.kind] || "#8e6c00", width: 1.5, dash: "dot" } })),
    annotations: pins.map((p) => ({ xref: "x", yref: "paper", x: p.x, y: 1, yanchor: "bottom", showarrow: false,
      text: PIN_MARKS[p.kind] || "⚠", font: { color: PIN_COLORS[p.kind] || "#8e6c00", size: 13 }, hovertext: plotlyText(p.text) })),
  };
}

export const CONFIG = {
  responsive: true,
  displaylogo: false,
  modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"],
};

/** Give the epoch numbers 1..n. */
const epochs = (n) => Array.from({ length: n }, (_, i) => i + 1);

/**
 * The charts of one run inside a container element. Each chart is a <div class="chart"
 * data-metric=ID data-points=N> (N = epochs drawn), so a page or a test can see what is shown.
 *
 * Example:
 *   const charts = new RunCharts(byId("charts"));
 *   charts.draw(run.history, run.epochs_planned);
 *   charts.addEpoch(3, {loss: 0.21, val_loss: 0.25});
 */
export class RunCharts {
  constructor(container) {
    this.container = container;
    this.history = {};
    this.planned = 0;
    this.shown = 0;   // the last epoch the x axes show
    this.groups = null;   // none drawn yet: the first draw builds the chart elements
    this.nodes = new Map();
    this.pins = [];   // warnings pinned to the loss chart (setPins)
  }

  /** Give the x range that shows epochs 1..last and every pin (a warning in epoch 1 sits left of 1). */
  range(last) {
    const [lo, hi] = xRange(last);
    return [Math.min(lo, ...this.pins.map((p) => p.x - 0.1)), hi];
  }

  /** Pin warnings to the loss chart: [{x, kind, text}], x in epochs (epoch - 1 + batch / steps). */
  setPins(pins) {
    this.pins = pins;
    const node = this.nodes.get("loss");
    if (!node) return;
    plotly().relayout(node, { ...pinLayout(pins), ...xAxis(this.range(this.shown)) });
    node.dataset.pins = String(pins.length);
  }

  /** Give the number of epochs drawn. */
  get epochCount() {
    return Math.max(0, ...Object.values(this.history).map((values) => values.length));
  }

  /** Draw every chart afresh from a history {key: [one value per epoch]}; `planned` sets the x range. */
  draw(history, planned) {
    this.history = Object.fromEntries(Object.entries(history || {}).map(([k, v]) => [k, [...v]]));
    this.planned = planned || 0;
    const wanted = metricGroups(Object.keys(this.history));
    const shown = (this.groups || []).map((g) => g.keys.join());
    const same = this.groups && wanted.length === shown.length && wanted.every((g, i) => g.keys.join() === shown[i]);
    if (!same) this.rebuildNodes(wanted);
    const n = this.epochCount;
    this.shown = shownEpochs(this.planned, n);
    const range = this.range(this.shown);
    for (const group of this.groups) {
      const node = this.nodes.get(group.id);
      // Copies: Plotly keeps the arrays it is given and extendTraces appends to them.
      const traces = group.keys.map((key) => ({
        ...traceStyle(key, this.shown), x: epochs(this.history[key].length), y: [...this.history[key]],
      }));
      const pins = group.id === "loss" ? this.pins : [];
      // react() updates in place: a redraw (e.g. after a reconnect) does not flash or move the page.
      plotly().react(node, traces, layout(group, range, pins), CONFIG);
      node.dataset.points = String(n);
      if (group.id === "loss") node.dataset.pins = String(pins.length);
    }
    this.container.dataset.epochs = String(n);
  }

  /** Replace the chart elements with one per group (and the empty note when there is none). */
  rebuildNodes(groups) {
    for (const node of this.nodes.values()) plotly().purge(node);
    this.groups = groups;
    this.nodes = new Map(groups.map((g) => {
      const node = document.createElement("div");
      node.className = "chart";
      node.dataset.metric = g.id;
      node.dataset.keys = g.keys.join(" ");
      return [g.id, node];
    }));
    const empty = document.createElement("p");
    empty.className = "charts-empty muted";
    empty.textContent = "The charts start when the first epoch ends.";
    this.container.replaceChildren(...(groups.length ? this.nodes.values() : [empty]));
  }

  /** Add one finished epoch's logs (epoch counted from 1); redraws only when a new key appears. */
  addEpoch(epoch, logs = {}) {
    const n = this.epochCount;
    if (epoch <= n) return;   // already drawn (a replay): never draw a point twice
    const keys = new Set([...Object.keys(this.history), ...Object.keys(logs)]);
    for (const key of keys) {
      const values = this.history[key] || (this.history[key] = Array(n).fill(null));
      while (values.length < epoch - 1) values.push(null);   // an epoch we never heard of stays a gap
      values.push(key in logs ? logs[key] : null);
    }
    const newKey = !this.groups || Object.keys(logs).some((k) => !this.groups.some((g) => g.keys.includes(k)));
    if (newKey || epoch !== n + 1) {
      this.draw(this.history, this.planned);
      return;
    }
    for (const group of this.groups) {
      const node = this.nodes.get(group.id);
      const update = { x: group.keys.map(() => [epoch]), y: group.keys.map((k) => [this.history[k][epoch - 1]]) };
      plotly().extendTraces(node, update, group.keys.map((_, i) => i));
      node.dataset.points = String(epoch);
    }
    this.container.dataset.epochs = String(epoch);
    this.show(shownEpochs(this.planned, epoch));
  }

  /** Make the x axes show epochs 1..last (their ticks and the traces' dots with them), when that changes. */
  show(last) {
    if (last === this.shown) return;
    const modeChanges = traceMode(last) !== traceMode(this.shown);
    this.shown = last;
    for (const [id, node] of this.nodes) {
      plotly().relayout(node, xAxis(this.range(last)));
      if (modeChanges) {
        const group = this.groups.find((g) => g.id === id);
        plotly().restyle(node, { mode: traceMode(last) }, group.keys.map((_, i) => i));
      }
    }
  }

  /** Set the epoch fit is heading to (after a continue, say) and widen the x axes to show it. */
  setPlanned(planned) {
    if (!planned || planned === this.planned) return;
    this.planned = planned;
    this.show(shownEpochs(planned, this.epochCount));
  }
}
