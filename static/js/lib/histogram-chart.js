// Weight histograms as TensorBoard draws them ("offset" mode): one small chart per weight tensor,
// one ridge per epoch stacked along y, the latest epoch in front and darkest. Data from
// GET /api/runs/ID/histograms, fetched when the charts are first seen, when asked, and when the run ends:
// never once per epoch on its own (see WeightHistograms).

import { getJSON } from "./api.js";
import { el, replaceChildren, shapeText } from "./dom.js";

const FONT = { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 11, color: "#1d2329" };
const CONFIG = { displaylogo: false, displayModeBar: false, responsive: true };
const RIDGE = 1.6;   // a ridge's tallest bin rises this many ridges' spacing above its baseline

function plotly() {
  if (!window.Plotly) throw new Error("Plotly is not loaded: /vendor/plotly.min.js must come before this module");
  return window.Plotly;
}

/** Give one epoch's ridge: a closed outline over the bins, its baseline at y = epoch, `rise` epochs at its tallest. */
function ridge(entry, peak, last, count, rise) {
  const xs = [entry.edges[0]];
  const ys = [entry.epoch];
  entry.counts.forEach((c, i) => {
    const y = entry.epoch + (rise * c) / peak;
    xs.push(entry.edges[i], entry.edges[i + 1]);
    ys.push(y, y);
  });
  xs.push(entry.edges[entry.edges.length - 1]);
  ys.push(entry.epoch);
  const shade = Math.round(200 - (150 * (entry.epoch - 1)) / Math.max(1, last - 1));
  return {
    type: "scatter", mode: "lines", x: xs, y: ys, fill: "toself", name: `epoch ${entry.epoch}`,
    line: { width: 1, color: `rgb(${shade}, ${Math.round(shade * 0.6)}, 40)` },
    fillcolor: `rgba(${shade}, ${Math.round(shade * 0.6)}, 40, ${count > 1 ? 0.35 : 0.5})`,
    hovertemplate: `epoch ${entry.epoch}<br>value %{x:.4g}<extra></extra>`,
  };
}

/** Draw one tensor's epochs into node. */
function drawTensor(node, tensor) {
  const epochs = tensor.epochs;
  const peak = Math.max(1, ...epochs.map((e) => Math.max(...e.counts)));
  const last = epochs.length ? epochs[epochs.length - 1].epoch : 1;
  // A long run keeps some epochs only, evenly spaced (webapp/runs/epochs_kept.py): ridges rise by their spacing.
  const spacing = epochs.length > 1 ? (last - epochs[0].epoch) / (epochs.length - 1) : 1;
  // Oldest first, so the latest is drawn last: in front, as TensorBoard shows it.
  const traces = [...epochs].sort((a, b) => a.epoch - b.epoch)
    .map((e) => ridge(e, peak, last, epochs.length, RIDGE * spacing));
  const layout = {
    height: 200, margin: { l: 40, r: 8, t: 6, b: 28 }, font: FONT, showlegend: false,
    xaxis: { zeroline: true, zerolinecolor: "#d0d4da", fixedrange: true, gridcolor: "#f0f1f3" },
    yaxis: { title: { text: "epoch" }, dtick: Math.max(1, Math.ceil(last / 8)), fixedrange: true, gridcolor: "#f0f1f3" },
    paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff",
  };
  plotly().react(node, traces, layout, CONFIG);
  node.dataset.epochs = String(epochs.length);
}

/**
 * The run page's histograms: follow() loads them when their section first comes on screen. During a
 * run, recorded(epoch) offers the new epoch's (a button) rather than fetching: a room of viewers would
 * otherwise ask once each per epoch. ended() loads the last ones (when seen): one request per viewer.
 */
export class WeightHistograms {
  constructor(node, note, url, button) {
    this.node = node;
    this.note = note;
    this.url = url;
    this.button = button;
    this.charts = new Map();   // "layer/weight" -> chart node, kept across reloads so Plotly redraws in place
    this.onScreen = false;
    this.fresh = false;        // the charts show the latest recorded epoch
    this.loads = 0;            // requests made, shown as data-loads (what a test of "no request per epoch" counts)
    button.addEventListener("click", () => this.load());
  }

  /** Watch whether the section is on screen (or nearly); load when it comes into view and is not fresh. */
  follow(section) {
    new IntersectionObserver((entries) => {
      this.onScreen = entries.some((e) => e.isIntersecting);
      if (this.onScreen && !this.fresh && this.button.hidden) this.load();
    }, { rootMargin: "300px" }).observe(section);
  }

  /** Say epoch `epoch`'s histograms are recorded: offer them; they are fetched when the button is pressed. */
  recorded(epoch) {
    this.fresh = false;
    this.button.textContent = `Show the weights after epoch ${epoch}`;
    this.button.hidden = false;
  }

  /** Say the run ended: load its last histograms now if they are seen, else when they next come into view. */
  ended() {
    this.fresh = false;
    this.button.hidden = true;
    if (this.onScreen) this.load();
  }

  async load() {
    this.fresh = true;
    this.button.hidden = true;
    this.node.dataset.loads = String(++this.loads);
    let doc;
    try {
      doc = await getJSON(this.url);
    } catch (err) {
      this.note.textContent = err.message;
      this.note.hidden = false;
      return;
    }
    if (!doc.layers.length) {
      this.note.textContent = "The weights' histograms are recorded at the end of each epoch.";
      this.note.hidden = false;
      return;
    }
    this.note.hidden = true;
    const figures = [];
    let epochs = 0;
    for (const layer of doc.layers) {
      for (const tensor of layer.weights) {
        const key = `${layer.name}/${tensor.name}`;
        if (!this.charts.has(key)) {
          this.charts.set(key, el("figure", { class: "histogram", dataset: { tensor: key } },
            el("figcaption", { class: "mono", text: `${key} ${shapeText(tensor.shape)}` }), el("div", { class: "histogram-chart" })));
        }
        const figure = this.charts.get(key);
        figures.push(figure);
        epochs = Math.max(epochs, tensor.epochs.length);
      }
    }
    replaceChildren(this.node, figures);
    for (const layer of doc.layers) {
      for (const tensor of layer.weights) drawTensor(this.charts.get(`${layer.name}/${tensor.name}`).lastChild, tensor);
    }
    this.node.dataset.epochs = String(epochs);
  }
}
