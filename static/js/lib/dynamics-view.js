// The run page's "Inside fit": what each recorded training step did to each layer, the warnings, the range test.
//
// GET /api/runs/ID/dynamics gives the document; `run_dynamics` events add what is new (records
// after the last step drawn; a copy of one already drawn is dropped by its step). Three charts along
// the steps: each layer's update / weight ratio (log scale, the healthy band around 1e-3 shaded),
// each layer's gradient norm, the learning rate. Warnings are listed (each layer a link to it in
// the builder) and handed to the page to pin on the loss chart. A range test's loss against the
// rate (log axis) marks the suggested rate, and "Use this rate" opens the builder with it.

import { getJSON } from "./api.js";
import { CONFIG } from "./charts.js";
import { el } from "./dom.js";
import { plotlyText } from "./plotly-text.js";
import { RANGE_TEST_SUFFIX, openInBuilder } from "./spec.js";

const HEALTHY = 1e-3;
const BAND = [1e-4, 1e-2];   // the shaded band: an order of magnitude either side of 1e-3
const HEIGHT = 240;
const DRAW_MS = 1000;   // live events are drawn at most this often
const FIGURES = ["grad_norm", "weight_norm", "update_norm"];
const KIND_TEXT = { nan: "NaN", vanishing: "vanishing gradient", exploding: "exploding gradient", dead_relu: "dead ReLUs" };

/** Give the global Plotly (the page loads it). */
const plotly = () => window.Plotly;

/** Give a chart layout along the steps: log y unless told otherwise. */
function stepLayout(title, yTitle, log = true) {
  return {
    height: HEIGHT, margin: { l: 58, r: 14, t: 36, b: 44 },   // Plotly widens r for the legend
    title: { text: plotlyText(title), font: { size: 14 }, x: 0.01, xanchor: "left", y: 0.97 },
    font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#1d2329" },
    xaxis: { title: { text: "step" }, gridcolor: "#eceef1", zeroline: false, showline: true, linecolor: "#c4cad2" },
    yaxis: { title: { text: plotlyText(yTitle), standoff: 8 }, type: log ? "log" : "linear", exponentformat: "power",
      gridcolor: "#eceef1", zeroline: false, showline: true, linecolor: "#c4cad2", automargin: true },
    // One entry per layer: a column beside the plot, where a deep model's dozen names do not cover the title.
    legend: { orientation: "v", x: 1.01, xanchor: "left", y: 1, yanchor: "top", font: { size: 10.5 } },
    hovermode: "x unified",
  };
}

/** Give {layer: {ratio: [...], grad: [...]}} per recorded step, each layer's weights taken together. */
export function perLayer(doc) {
  const out = new Map();
  for (const w of doc.weights) {
    const layer = out.get(w.layer) || { sums: doc.steps.map(() => [0, 0, 0]) };
    out.set(w.layer, layer);
    FIGURES.forEach((key, f) => w[key].forEach((v, i) => { if (i < layer.sums.length) layer.sums[i][f] += (v ?? NaN) ** 2; }));
  }
  for (const layer of out.values()) {
    layer.grad = layer.sums.map(([g]) => (Number.isFinite(g) ? Math.sqrt(g) : null));
    layer.ratio = layer.sums.map(([, w, u]) => (w > 0 && Number.isFinite(u) && u > 0 ? Math.sqrt(u / w) : null));
  }
  return out;
}

export class FitDynamics {
  /**
   * parts: {ratio, grads, rate, warnings, explain, note, finder, finderNote, useRate} elements;
   * url: the dynamics URL (share-aware); spec: the run's spec; onWarnings(warnings): pins them.
   */
  constructor(parts, url, spec, onWarnings = () => {}) {
    Object.assign(this, { parts, url, spec, onWarnings });
    this.doc = null;
    this.waiting = [];    // events that came while the document was being fetched
    this.loading = null;
    this.drawing = false;
    this.finder = null;   // a range test's answer, once it has ended (GET /api/runs/ID's lr_finder)
    this.drawnAt = -Infinity;
    this.warned = -1;     // the warnings drawn and pinned so far
  }

  /** Take a range test's lr_finder ({lrs, losses, smoothed, suggested}) and draw it. */
  setFinder(finder) {
    this.finder = finder || null;
    if (this.doc) this.drawRangeTest(this.finder);
  }

  /** Fetch the document and draw it; events that arrive meanwhile are merged after it. */
  async load() {
    this.warned = -1;   // a reload draws and pins them again (the loss chart was drawn anew)
    this.loading = getJSON(this.url);
    try {
      this.doc = await this.loading;
    } catch (err) {
      this.parts.note.textContent = `Could not load the training dynamics: ${err.message}`;
      this.parts.note.hidden = false;
      return;
    } finally {
      this.loading = null;
    }
    for (const part of this.waiting.splice(0)) this.merge(part);
    this.draw();
  }

  /** Take a run_dynamics event: merge it and redraw, at most once every DRAW_MS (a redraw of every layer's
   * lines costs the page tens of milliseconds, which four events a second would spend four times over). */
  add(part) {
    if (!this.doc || this.loading) {
      this.waiting.push(part);
      return;
    }
    this.merge(part);
    if (this.drawing) return;
    this.drawing = true;
    const wait = Math.max(0, this.drawnAt + DRAW_MS - performance.now());
    setTimeout(() => { this.drawing = false; this.draw(); }, wait);
  }

  /** Add an event's records after the last step drawn, and its warnings not shown yet. */
  merge(part) {
    const doc = this.doc;
    const last = doc.steps.length ? doc.steps[doc.steps.length - 1].step : 0;
    const fresh = (part.steps || []).map((s, i) => [s, i]).filter(([s]) => s.step > last);
    doc.every = Math.max(doc.every || 0, part.every || 0);
    if (fresh.length) {
      const before = doc.steps.length;
      doc.steps.push(...fresh.map(([s]) => s));
      for (const w of part.weights || []) {
        let entry = doc.weights.find((e) => e.layer === w.layer && e.name === w.name);
        if (!entry) {
          entry = { layer: w.layer, name: w.name, ...Object.fromEntries(FIGURES.map((f) => [f, Array(before).fill(null)])) };
          doc.weights.push(entry);
        }
        for (const f of FIGURES) entry[f].push(...fresh.map(([, i]) => w[f][i]));
      }
    }
    const key = (w) => `${w.kind}|${w.layer}|${w.epoch}|${w.batch}`;
    const seen = new Set(doc.warnings.map(key));
    doc.warnings.push(...(part.warnings || []).filter((w) => !seen.has(key(w))));
  }

  /** Draw the charts, the warnings and the texts from the document. */
  draw() {
    const doc = this.doc;
    this.drawnAt = performance.now();
    const { ratio, grads, rate, note } = this.parts;
    note.hidden = doc.steps.length > 0;
    note.textContent = this.spec.fit && this.spec.fit.dynamics === false
      ? "Training dynamics are off for this run (fit.dynamics: false)."
      : `The first record comes with the first training step, then every ${doc.every || "N"} steps.`;
    const steps = doc.steps.map((s) => s.step);
    const layers = perLayer(doc);
    const lines = (key) => [...layers].map(([name, l]) => ({ x: steps, y: l[key], name: plotlyText(name), mode: "lines",
      hovertemplate: `${plotlyText(name)} %{y:.3~e}<extra></extra>` }));
    const band = { type: "rect", xref: "paper", x0: 0, x1: 1, yref: "y", y0: BAND[0], y1: BAND[1],
      fillcolor: "rgba(46, 125, 50, 0.10)", line: { width: 0 }, layer: "below" };
    plotly().react(ratio, lines("ratio"), { ...stepLayout("Update / weight, per layer", "‖Δw‖ / ‖w‖"), shapes: [band] }, CONFIG);
    plotly().react(grads, lines("grad"), stepLayout("Gradient norm, per layer", "‖∇w‖"), CONFIG);
    const rateLayout = stepLayout("Learning rate", "learning_rate", false);
    rateLayout.yaxis.rangemode = "tozero";
    rateLayout.showlegend = false;
    plotly().react(rate, [{ x: steps, y: doc.steps.map((s) => s.learning_rate), name: "learning rate", mode: "lines",
      line: { shape: "hv", color: "#6b4fbb" } }], rateLayout, CONFIG);
    ratio.dataset.layers = String(layers.size);
    ratio.dataset.steps = String(steps.length);
    this.drawWarnings();
    this.explain();
    if (this.spec.fit && this.spec.fit.find_lr) this.drawRangeTest(this.finder);
  }

  /** List the warnings, each layer a link to it in the builder, and pin them on the loss chart (when there are new ones). */
  drawWarnings() {
    if (this.doc.warnings.length === this.warned) return;
    this.warned = this.doc.warnings.length;
    const list = this.parts.warnings;
    const items = this.doc.warnings.map((w) => el("li", { class: `dynamics-warning warning-${w.kind}`, dataset: { kind: w.kind } },
      el("strong", { text: `${KIND_TEXT[w.kind] || w.kind}` }), " · epoch ", String(w.epoch), ", batch ", String(w.batch),
      w.layer ? [" · ", el("a", { href: "/", text: w.layer, on: { click: (e) => this.openLayer(e, w.layer) } })] : null,
      el("p", { text: w.message })));
    list.replaceChildren(...items);
    list.hidden = !items.length;
    list.dataset.count = String(items.length);
    this.onWarnings(this.doc.warnings, this.doc.steps);
  }

  /** Open this run's spec in the builder, the warned layer scrolled to and opened. */
  openLayer(event, layer) {
    event.preventDefault();
    const spec = structuredClone(this.spec);
    delete spec.fit.find_lr;
    openInBuilder(spec, layer);
  }

  /** Fill "What Keras does here" with this run's own numbers: a gradient, its update, the rate. */
  explain() {
    const doc = this.doc;
    const at = doc.steps.length - 1;
    const w = doc.weights.find((e) => e.name.endsWith("kernel") && e.update_norm[at] != null) || doc.weights[0];
    if (at < 0 || !w) return;
    const s = doc.steps[at];
    const optimizer = (this.spec.compile && this.spec.compile.optimizer && this.spec.compile.optimizer.type) || "The optimizer";
    const ratio = w.update_norm[at] / w.weight_norm[at];
    const fmt = (v) => (v == null ? "—" : Number(v).toPrecision(3));
    this.parts.explain.replaceChildren(
      el("p", { text: `At step ${s.step} (epoch ${s.epoch}, batch ${s.batch}) the loss was ${fmt(s.loss)}. Keras worked out its `
        + `gradient with respect to every weight: for ${w.layer}'s ${w.name} a tensor the size of the weight, of norm ${fmt(w.grad_norm[at])}. `
        + "The gradient says which way each weight would make the loss grow, and how fast." }),
      el("p", { text: `${optimizer} turned it into an update at learning rate ${fmt(s.learning_rate)}: the weight moved by a norm of `
        + `${fmt(w.update_norm[at])}, ${fmt(ratio)} of its own norm ${fmt(w.weight_norm[at])}. Plain SGD moves it by exactly `
        + "rate × gradient; momentum, Adam and the others by what they made of the gradients so far, so the update shown is the real change." }),
      el("p", { text: `Around ${HEALTHY} of a weight's norm per step usually means a layer learns (the shaded band); far below, `
        + "it barely moves (vanishing gradients); far above, it thrashes. The learning rate scales every step." }));
  }

  /** Draw a range test: loss against rate (log axis), the suggestion marked, and "Use this rate". */
  drawRangeTest(finder) {
    const { finder: node, finderNote, useRate } = this.parts;
    node.closest("section").hidden = false;
    const lrs = finder ? finder.lrs : this.doc.steps.map((s) => s.learning_rate);
    const losses = finder ? finder.losses : this.doc.steps.map((s) => s.loss);
    const traces = [{ x: lrs, y: losses, name: "loss", mode: "lines", line: { color: "#2f5bd3" } }];
    if (finder && finder.smoothed) traces.push({ x: lrs.slice(0, finder.smoothed.length), y: finder.smoothed, name: "smoothed", mode: "lines", line: { color: "#e07b00" } });
    const suggested = finder ? finder.suggested : null;
    const layout = { ...stepLayout("Loss against learning rate", "loss", false), xaxis: { title: { text: "learning rate" }, type: "log", exponentformat: "power" } };
    // The runaway at the end would flatten the rest: show up to twice the first loss, as range-test plots do.
    const first = losses.find((v) => Number.isFinite(v));
    if (first) layout.yaxis = { ...layout.yaxis, range: [0, 2 * Math.max(first, ...losses.filter(Number.isFinite).slice(0, 3))] };
    if (suggested) layout.shapes = [{ type: "line", xref: "x", yref: "paper", x0: suggested, x1: suggested, y0: 0, y1: 1, line: { color: "#2e7d32", width: 2, dash: "dash" } }];
    plotly().react(node, traces, layout, CONFIG);
    node.dataset.points = String(lrs.length);
    finderNote.textContent = !finder ? "The rate rises at every batch; the suggestion comes when the test ends."
      : suggested ? `Suggested learning rate: ${suggested} (where the smoothed loss falls fastest).`
        : "The loss never fell: try a wider range (a smaller min_lr or a larger max_lr).";
    useRate.hidden = !suggested;
    useRate.onclick = () => {
      const spec = structuredClone(this.spec);
      delete spec.fit.find_lr;
      if (spec.name && spec.name.endsWith(RANGE_TEST_SUFFIX)) spec.name = spec.name.slice(0, -RANGE_TEST_SUFFIX.length);
      spec.compile.optimizer = { ...spec.compile.optimizer, learning_rate: suggested };
      openInBuilder(spec);
    };
  }
}
