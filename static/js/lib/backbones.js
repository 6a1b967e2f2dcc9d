// The builder's pretrained backbones, from GET /api/pretrained: each one's input sizes, parameters and
// whether its ImageNet weights are in Keras's cache here, shown in the add bar and beside its doc.

import { getJSON } from "./api.js";
import { grouped } from "./dom.js";

let models = new Map();

/** Fetch the backbones once; give the Map type -> model (empty when the request fails: the catalog still works). */
export async function loadBackbones() {
  try {
    models = new Map(((await getJSON("/api/pretrained")).models || []).map((m) => [m.type, m]));
  } catch {
    models = new Map();
  }
  return models;
}

/** Give a backbone's facts in a line ("" for any other layer type). */
export function backboneText(type) {
  const m = models.get(type);
  if (!m) return "";
  const sizes = m.input_sizes ? m.input_sizes.join(", ") : `any from ${m.min_size}`;
  const imagenet = m.weights.imagenet;
  const weights = imagenet.available ? `ImageNet weights here (${imagenet.file})`
    : imagenet.download ? `ImageNet weights not here yet: Keras downloads ${imagenet.file} once`
      : `ImageNet weights not here: put ${imagenet.file} in ${imagenet.folder}, or use weights null`;
  return `${grouped(m.params)} parameters without the top · input ${m.default_size}×${m.default_size} `
    + `(ImageNet sizes: ${sizes}) · ${weights}.`;
}

/** Label the add bar's backbone options with their parameters and whether their weights are here. */
export function labelOptions(select) {
  for (const option of select.options) {
    const m = models.get(option.value);
    if (!m) continue;
    option.textContent = `${m.type} · ${(m.params / 1e6).toFixed(1)}M · ${m.default_size}px`
      + (m.weights.imagenet.available ? " · weights here" : "");
    option.dataset.weights = m.weights.imagenet.available ? "here" : "missing";
  }
}
