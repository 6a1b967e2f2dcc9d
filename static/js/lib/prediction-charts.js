// Plotly charts of predictions: the top-5 probabilities of one image as bars, and the confusion
// matrix as a heatmap whose cells can be clicked. Plotly is the global /vendor/plotly.min.js defines.
// Class names come from uploads: they reach Plotly only through plotlyText.

import { plotlyText } from "./plotly-text.js";

const FONT = { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#1d2329" };
const CONFIG = { displaylogo: false, displayModeBar: false, responsive: true };
const PREDICTED = "#2f5bd3";
const TRUE = "#1e7d43";
const OTHER = "#b9c0c8";

/** Give the global Plotly, or throw a clear error when its script did not load. */
function plotly() {
  if (!window.Plotly) throw new Error("Plotly is not loaded: /vendor/plotly.min.js must come before this module");
  return window.Plotly;
}

/** Give a probability as a percentage with one decimal: 0.9234 -> "92.3%". */
export function percent(p) {
  return `${(100 * p).toFixed(1)}%`;
}

/**
 * Draw top-k probabilities as horizontal bars, the most likely on top.
 * top: [{class, name, p}]; trueClass: the right answer (its bar is green), or null when unknown.
 */
export function drawTopBars(node, top, trueClass = null) {
  const labels = top.map((t) => plotlyText(t.name === String(t.class) ? t.name : `${t.class} · ${t.name}`));
  const colors = top.map((t, i) => (t.class === trueClass ? TRUE : i === 0 ? PREDICTED : OTHER));
  const trace = {
    type: "bar", orientation: "h", x: top.map((t) => t.p), y: labels, marker: { color: colors },
    text: top.map((t) => percent(t.p)), textposition: "outside", cliponaxis: false,
    hovertemplate: "%{y}: %{x:.4f}<extra></extra>",
  };
  const layout = {
    height: 40 + 34 * top.length, margin: { l: 90, r: 56, t: 8, b: 32 }, font: FONT,
    xaxis: { range: [0, 1.0], tickformat: ".0%", gridcolor: "#eceef1", zeroline: false, fixedrange: true },
    yaxis: { autorange: "reversed", type: "category", automargin: true, fixedrange: true },
    paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff", bargap: 0.3,
  };
  plotly().react(node, [trace], layout, CONFIG);
  node.dataset.bars = String(top.length);
}

// The click handler of each drawn matrix: Plotly keeps its listeners across react(), so bind once.
const cellHandlers = new WeakMap();

/** Give a colour scale that starts white, so empty cells disappear and the diagonal stands out. */
const SCALE = [[0, "#ffffff"], [0.02, "#e8eefc"], [0.3, "#9db4ee"], [1, "#1f3f99"]];

/**
 * Draw a confusion matrix (rows true, columns predicted) as a heatmap with counts in the cells.
 * onCell(trueClass, predictedClass) is called when a cell is clicked. The element gets
 * data-classes (the matrix size) so tests and readers know what is drawn.
 */
export function drawConfusion(node, names, matrix, onCell) {
  const labels = names.map(plotlyText);
  const n = labels.length;
  const ids = labels.map((_, i) => i);
  const trace = {
    type: "heatmap", z: matrix, x: ids, y: ids, colorscale: SCALE, showscale: false, xgap: 1, ygap: 1,
    text: matrix.map((row) => row.map((v) => (v ? String(v) : ""))), texttemplate: "%{text}",
    textfont: { size: n > 15 ? 9 : 12 },
    customdata: matrix.map((row, t) => row.map((_, p) => [labels[t], labels[p]])),
    hovertemplate: "true %{customdata[0]}, predicted %{customdata[1]}: %{z} images<extra></extra>",
  };
  const side = Math.min(420, Math.max(220, 28 * n + 80));
  const axis = (title) => ({
    title: { text: title }, tickmode: "array", tickvals: ids, ticktext: labels, fixedrange: true,
    showgrid: false, zeroline: false, automargin: true,
  });
  const layout = {
    height: side, margin: { l: 56, r: 8, t: 8, b: 48 }, font: FONT,
    xaxis: { ...axis("predicted"), side: "bottom", constrain: "domain" },
    yaxis: { ...axis("true"), autorange: "reversed", scaleanchor: "x", constrain: "domain" },
    paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff",
  };
  plotly().react(node, [trace], layout, CONFIG);
  node.dataset.classes = String(n);
  if (!cellHandlers.has(node)) {
    node.on("plotly_click", (event) => {
      const point = event && event.points && event.points[0];
      if (point) cellHandlers.get(node)(point.y, point.x);
    });
  }
  cellHandlers.set(node, onCell);
}

/** Mark one cell (true t, predicted p) of the drawn confusion matrix with an outline; null clears it. */
export function markCell(node, cell) {
  if (!node.data) return;
  const shapes = cell ? [{
    type: "rect", xref: "x", yref: "y", x0: cell.predicted - 0.5, x1: cell.predicted + 0.5,
    y0: cell.trueClass - 0.5, y1: cell.trueClass + 0.5, line: { color: "#e07b00", width: 3 },
  }] : [];
  plotly().relayout(node, { shapes });
}
