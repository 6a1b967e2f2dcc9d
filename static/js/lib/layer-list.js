// The builder's layer list: one card per layer with its catalog-generated form, and the "add" bar.

import { el, replaceChildren, shapeText } from "./dom.js";
import { isGraph, wiring } from "./graph-view.js";
import { parseInputs } from "./graph-edit.js";
import { paramFields } from "./spec-form.js";

/** Give the small icon button of a card (move up/down, remove), labelled for screen readers and tests. */
function actionButton(action, index, symbol, label, disabled) {
  return el("button", {
    type: "button", class: `icon-button ${action === "remove" ? "danger" : ""}`, title: label,
    "aria-label": label, disabled, dataset: { action, index: String(index) }, text: symbol,
  });
}

/** Give a graph layer's "inputs" field: the names it takes, edited as text to reconnect it. */
function inputsField(layer, index, inputs, ctx) {
  const id = `layer-${index}-inputs`;
  const input = el("input", { id, type: "text", value: inputs.join(", "), spellcheck: "false", autocomplete: "off" });
  input.addEventListener("change", () => {
    layer.inputs = parseInputs(input.value);
    ctx.onChange();
  });
  return el("div", { class: "field wide", dataset: { field: "inputs" } },
    el("label", { for: id, text: "inputs" }), input,
    el("span", { class: "help", text: "Names of the layers it takes, \"input\" for the dataset's input." }));
}

/** Give one layer's card: header (index, type, Keras name, output shape, buttons), doc, fields. */
function layerCard(layer, index, count, name, ctx, inputs) {
  const entry = ctx.cat.layers.get(layer.type);
  const header = el("header", { class: "layer-head" },
    el("span", { class: "layer-index", title: `model.layers[${index}]`, text: String(index) }),
    el("span", { class: "layer-type", text: String(layer.type) }),
    el("span", { class: "layer-name", text: name }),
    el("span", { class: "layer-shape", dataset: { shape: "" } }),
    el("span", { class: "card-actions" },
      actionButton("up", index, "↑", `Move layer ${index} up`, index === 0),
      actionButton("down", index, "↓", `Move layer ${index} down`, index === count - 1),
      actionButton("branch", index, "↳", `Branch from layer ${index}`, false),
      actionButton("remove", index, "✕", `Remove layer ${index}`, false)));
  const fields = entry ? paramFields(entry.params, layer, { ...ctx, pathPrefix: `model.layers.${index}.` }) : [];
  if (inputs) fields.unshift(inputsField(layer, index, inputs, ctx));
  return el("li", { class: "card layer-card", dataset: { layerIndex: String(index), layerType: String(layer.type) } },
    header,
    el("p", { class: "card-error", role: "alert", hidden: true }),
    el("p", { class: "help layer-doc", text: entry ? entry.doc : "This layer type is not in the catalog." }),
    fields.length ? el("div", { class: "params" }, fields) : el("p", { class: "muted no-params", text: "No parameters." }));
}

/**
 * Draw every layer of `layers` into `list`.
 * ctx: cat (indexed catalog), newLayer(type), onChange() for field edits, and `search` (the sweep's
 * space: search-field.js) to offer "search" on the layers' fields.
 */
export function renderLayers(list, layers, ctx) {
  const { names, inputs } = wiring(layers);
  const graph = isGraph(layers);
  const cards = layers.map((layer, i) => layerCard(layer, i, layers.length, names[i], ctx, graph ? inputs[i] : null));
  if (!cards.length) {
    cards.push(el("li", { class: "card empty-list" },
      el("p", { class: "muted", text: "No layers yet: start from a preset above, add a layer below, or import code." })));
  }
  replaceChildren(list, cards);
}

/** Call handlers.move(index, delta) / remove(index) / branch(index) when a card's buttons are clicked. */
export function onCardActions(list, handlers) {
  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button || !list.contains(button)) return;
    const index = Number(button.dataset.index);
    if (button.dataset.action === "up") handlers.move(index, -1);
    else if (button.dataset.action === "down") handlers.move(index, 1);
    else if (button.dataset.action === "remove") handlers.remove(index);
    else if (button.dataset.action === "branch") handlers.branch(index);
  });
}

/** Fill the "add layer" select with the catalog's layers, grouped by category. */
export function renderAddTypes(select, cat, chosen = "Dense") {
  const groups = new Map();
  for (const entry of cat.layers.values()) {
    const key = entry.category || "Other";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(el("option", { value: entry.type, text: entry.type }));
  }
  replaceChildren(select, [...groups].map(([label, options]) => el("optgroup", { label }, options)));
  select.value = chosen;
}

/** Fill the "at" select: the end, the start, or after each layer (by index and Keras name). */
export function renderAddPositions(select, layers) {
  const previous = select.value;
  const { names } = wiring(layers);
  const options = [el("option", { value: "end", text: "the end" })];
  if (layers.length) options.push(el("option", { value: "0", text: "the start" }));
  layers.forEach((layer, i) => {
    if (i < layers.length - 1) options.push(el("option", { value: String(i + 1), text: `after ${i} ${names[i]}` }));
  });
  replaceChildren(select, options);
  select.value = [...select.options].some((o) => o.value === previous) ? previous : "end";
}

/** Fill the "merge with" select: every layer by index and Keras name, the last but one chosen. */
export function renderMergeWith(select, layers) {
  const previous = select.value;
  const { names } = wiring(layers);
  replaceChildren(select, names.map((name, i) => el("option", { value: name, text: `${i} ${name}` })));
  select.value = names.includes(previous) ? previous : (names[Math.max(names.length - 2, 0)] || "");
}

/** Give each card's output shape (card index -> text); a graph's rows come in topological order, so by name. */
export function cardShapes(layers, rows) {
  const { names } = wiring(layers);
  const at = new Map(names.map((name, i) => [name, i]));
  return new Map(rows.map((row) => [at.get(row.name) ?? row.index, shapeText(row.output_shape)]));
}

/** Show each layer's output shape on its card, or clear them (shapes: index -> text, or null). */
export function showCardShapes(list, shapes) {
  for (const node of list.querySelectorAll(".layer-card")) {
    const text = shapes ? shapes.get(Number(node.dataset.layerIndex)) : null;
    node.querySelector(".layer-shape").textContent = text ? `→ ${text}` : "";
  }
}
