// Edits of a model's wiring in the builder: a stack made a graph, a branch from a layer, a merge of
// two layers, an input reconnected, a layer removed with its edges repaired. Pure: layers in, layers out.

import { INPUT, isGraph, wiring } from "./graph-view.js";
import { layerNames } from "./spec.js";

/** Give the layers with every name and input written out (a stack becomes the same model as a graph). */
export function explicit(layers) {
  const { names, inputs } = wiring(layers);
  return layers.map((layer, i) => ({ ...layer, name: names[i], inputs: [...inputs[i]] }));
}

/** Insert `layer` at `at` with these inputs, named as Keras would name it among the others. */
function insert(layers, at, layer, inputs) {
  const { name, ...rest } = layer;
  layers.splice(at, 0, { ...rest, inputs });
  layers[at].name = layerNames(layers)[at];
  return layers;
}

/** Give the layers with `layer` added after layer `index`, taking that layer's output: a new branch. */
export function branch(layers, index, layer) {
  const out = explicit(layers);
  return insert(out, index + 1, layer, [out[index].name]);
}

/**
 * Give the layers with merge `layer` added at `at`, joining the layer before it with layer `other`
 * (a name); the layer that took the one before now takes the merge, as a residual block wants.
 */
export function mergeAt(layers, at, layer, other) {
  const out = explicit(layers);
  const before = at > 0 ? out[at - 1].name : INPUT;
  const next = out[at];
  insert(out, at, layer, [before, other]);
  if (next) next.inputs = next.inputs.map((n) => (n === before ? out[at].name : n));
  return out;
}

/** Give the names a text lists ("stem, conv2d_1"): an input reconnected from a card's field. */
export function parseInputs(text) {
  return String(text).split(/[\s,]+/).filter(Boolean);
}

/**
 * Give the layers without layer `index`; in a graph, the layers it fed take its first input instead,
 * so a chain stays joined (the check says what else broke, such as a merge left with one input).
 */
export function removeLayer(layers, index) {
  const out = layers.slice();
  const [gone] = out.splice(index, 1);
  if (!isGraph(layers)) return out;
  const name = wiring(layers).names[index];
  const instead = (gone.inputs && gone.inputs[0]) || INPUT;
  return out.map((layer) => (Array.isArray(layer.inputs) && layer.inputs.includes(name)
    ? { ...layer, inputs: layer.inputs.map((n) => (n === name ? instead : n)) } : layer));
}
