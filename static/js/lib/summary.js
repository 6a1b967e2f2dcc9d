// The live summary table, laid out like Keras's model.summary().

import { el, grouped, replaceChildren, shapeText } from "./dom.js";
import { layerNames } from "./spec.js";

/** Give a byte count as Keras's summary prints it: 207.04 KB, 0.00 B. */
function memory(params) {
  let size = params * 4;   // float32 weights
  for (const unit of ["B", "KB", "MB", "GB"]) {
    if (size / 1024 < 1 || unit === "GB") return `${size.toFixed(2)} ${unit}`;
    size /= 1024;
  }
  return "";
}

/** Give a byte count rounded as an estimate reads: ~1.2 GB, ~380 MB (powers of 1024, as modelspec/memory.py). */
function approx(bytes) {
  const units = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];
  let size = bytes, unit = 0;
  while (size >= 1024 && unit < units.length - 1) { size /= 1024; unit += 1; }
  if (size >= 1024) return "more than 1024 EB";   // a shape of 10⁹ × 10⁹ × … : a number, not a length of digits
  return `~${size < 10 && unit ? size.toFixed(1) : Math.round(size)} ${units[unit]}`;
}

/** Give the activation estimate's totals line, or none for a summary stored before it existed. */
function activations(result) {
  const found = result.activations;
  if (!found) return [];
  return [["Activations:", `${approx(found.bytes)} per batch of ${grouped(found.batch_size)} (training step)`]];
}

/** Give one table row. */
function row(index, nameType, shape, params, className = "") {
  return el("tr", { class: className, dataset: { layerIndex: String(index) } },
    el("td", { class: "name", text: nameType }),
    el("td", { class: "shape", text: shape }),
    el("td", { class: "num", text: params }));
}

/** Give the totals as <dt>/<dd> pairs. */
function totals(dl, items) {
  replaceChildren(dl, items.flatMap(([term, value]) => [el("dt", { text: term }), el("dd", { text: value })]));
}

/** Draw a successful check: one row per layer with its output shape and parameters, then the totals. */
export function showSummary(parts, result) {
  replaceChildren(parts.body, result.layers.map((l) => {
    // A backbone's front layers are added by the dashboard: marked, with the reason on hover.
    const tr = row(l.index, `${l.name} (${l.type})${l.added ? " · added" : ""}`, shapeText(l.output_shape),
      grouped(l.params), l.added ? "added" : "");
    if (l.note) tr.title = `Added by the dashboard: ${l.note}.`;
    return tr;
  }));
  const frozen = result.total_params - result.trainable_params;
  totals(parts.totals, [
    ["Total params:", `${grouped(result.total_params)} (${memory(result.total_params)})`],
    ["Trainable params:", `${grouped(result.trainable_params)} (${memory(result.trainable_params)})`],
    ["Non-trainable params:", `${grouped(frozen)} (${memory(frozen)})`],
    ...activations(result),
  ]);
  replaceChildren(parts.warnings, (result.warnings || []).map((w) => el("li", { class: "warning", text: String(w) })));
}

/**
 * Draw a failed check: the layers by name, no shapes (the model cannot be built), and the failing
 * layers marked with their first message.
 */
export function showFailedSummary(parts, layers, errorsByLayer) {
  const names = layerNames(layers);
  replaceChildren(parts.body, layers.map((layer, i) => {
    const messages = errorsByLayer.get(i);
    const tr = row(i, `${names[i]} (${layer.type})`, messages ? "✖ error" : "?", "?", messages ? "has-error" : "");
    if (messages) tr.title = messages.join("\n");
    return tr;
  }));
  totals(parts.totals, [["Total params:", "?"], ["Trainable params:", "?"], ["Non-trainable params:", "?"]]);
  replaceChildren(parts.warnings);
}

/** Say where the live check stands: "checking…", "ok", or a count of problems. */
export function showStatus(node, state, text) {
  node.dataset.state = state;
  node.textContent = text;
}
