// Plotly charts of the inside view: every class's probability as bars (click one to explain it),
// a layer's output vector as a bar strip, and one image's probabilities epoch by epoch.
// Plotly is the global /vendor/plotly.min.js defines; class names reach it only through plotlyText.

import { plotlyText } from "./plotly-text.js";

const FONT = { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#1d2329" };
const CONFIG = { displaylogo: false, displayModeBar: false, responsive: true };
const PREDICTED = "#2f5bd3";
const CHOSEN = "#e07b00";
const TRUE = "#1e7d43";
const OTHER = "#b9c0c8";
const clickHandlers = new WeakMap();   // Plotly keeps listeners across react(): bind once per node

function plotly() {
  if (!window.Plotly) throw new Error("Plotly is not loaded: /vendor/plotly.min.js must come before this module");
  return window.Plotly;
}

/** Give "3" or "3 · cat" for class k. */
export function classLabel(names, k) {
  const name = names[k];
  return name === undefined || name === String(k) ? String(k) : `${k} · ${name}`;
}

/**
 * Draw every class's probability as a horizontal bar: the predicted class blue, the class being
 * explained orange, the true class's label marked ✓. onClick(k) is called when a bar is clicked.
 */
export function drawClassBars(node, { probabilities, names, predicted, chosen, trueClass }, onClick) {
  const labels = probabilities.map((_, k) => plotlyText(`${k === trueClass ? "✓ " : ""}${classLabel(names, k)}`));
  const colors = probabilities.map((_, k) => (k === chosen ? CHOSEN : k === predicted ? PREDICTED : OTHER));
  const trace = {
    type: "bar", orientation: "h", x: probabilities, y: labels, marker: { color: colors },
    text: probabilities.map((p) => `${(100 * p).toFixed(1)}%`), textposition: "outside", cliponaxis: false,
    hovertemplate: "%{y}: %{x:.4f}<extra></extra>", customdata: probabilities.map((_, k) => k),
  };
  const layout = {
    height: 40 + 22 * Math.min(probabilities.length, 40), margin: { l: 90, r: 56, t: 8, b: 28 }, font: FONT,
    xaxis: { range: [0, 1.05], tickformat: ".0%", gridcolor: "#eceef1", zeroline: false, fixedrange: true },
    yaxis: { autorange: "reversed", type: "category", automargin: true, fixedrange: true },
    paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff", bargap: 0.25,
    hovermode: "y",   // a click anywhere on a class's row picks it, even where its bar is too thin to hit
  };
  plotly().react(node, [trace], layout, CONFIG);
  node.dataset.chosen = String(chosen);
  if (!clickHandlers.has(node)) {
    node.on("plotly_click", (event) => {
      const point = event && event.points && event.points[0];
      if (point) clickHandlers.get(node)(point.customdata);
    });
  }
  clickHandlers.set(node, onClick);
}

/** Draw a layer's output vector as a strip of bars, unit by unit (negative values go down). */
export function drawValues(node, values) {
  const trace = {
    type: "bar", x: values.map((_, i) => i), y: values, marker: { color: values.map((v) => (v < 0 ? "#c0262d" : PREDICTED)) },
    hovertemplate: "unit %{x}: %{y:.4g}<extra></extra>",
  };
  const layout = {
    height: 130, margin: { l: 44, r: 8, t: 6, b: 26 }, font: FONT, bargap: values.length > 64 ? 0 : 0.15,
    xaxis: { fixedrange: true, title: { text: "unit", standoff: 2 } }, yaxis: { fixedrange: true, gridcolor: "#eceef1" },
    paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff",
  };
  plotly().react(node, [trace], layout, CONFIG);
}

/** Draw one image's class probabilities after each epoch: one line per class, the true class thick. */
export function drawLearning(node, { epochs, probabilities }, names, trueClass) {
  const classes = probabilities.length ? probabilities[0].length : 0;
  const traces = [];
  for (let k = 0; k < classes; k += 1) {
    traces.push({
      type: "scatter", mode: epochs.length > 30 ? "lines" : "lines+markers", name: plotlyText(classLabel(names, k)),
      x: epochs, y: probabilities.map((row) => row[k]),
      line: { width: k === trueClass ? 4 : 1.5, color: k === trueClass ? TRUE : undefined },
      hovertemplate: "epoch %{x}: %{fullData.name} %{y:.3f}<extra></extra>",
    });
  }
  const layout = {
    height: 240, margin: { l: 48, r: 8, t: 8, b: 36 }, font: FONT, showlegend: classes <= 20,
    // A long run keeps some epochs only (webapp/runs/epochs_kept.py), up to its last: about ten ticks.
    xaxis: { title: { text: "epoch" }, dtick: Math.max(1, Math.ceil((epochs[epochs.length - 1] || 1) / 10)), fixedrange: true },
    yaxis: { range: [0, 1.02], tickformat: ".0%", fixedrange: true, gridcolor: "#eceef1" },
    paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff",
  };
  plotly().react(node, traces, layout, CONFIG);
  node.dataset.epochs = String(epochs.length);
}
