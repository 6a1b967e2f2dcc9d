// A sweep's search space as the page handles it: which spec fields may be searched, their PATHs
// (`model.layers.INDEX.ARG`, `compile.optimizer.X`, `fit.batch_size`), a new FIELD for a field, how
// a PATH and a FIELD read, a trial's params written into a copy of the base spec, and the builder's
// space carried along when its layers move.

import { layerNames } from "./spec.js";

// The PATHs the builder offers a search for: a layer's own arguments (not a wrapped layer's), the
// optimizer's type and arguments, and fit's batch size and epochs. Numbers get a range; choices,
// flags and sizes (kernel_size: a Keras Tuner script's choices) a list of choices.
const SEARCHABLE = /^(model\.layers\.\d+\.[A-Za-z_][A-Za-z0-9_]*|compile\.optimizer\.[A-Za-z_][A-Za-z0-9_]*|fit\.(batch_size|epochs))$/;
const KINDS = new Set(["int", "float", "choice", "bool", "ints"]);

/** Tell whether the builder offers "search" for a parameter of this kind at this PATH. */
export function searchable(path, kind) {
  return SEARCHABLE.test(path) && KINDS.has(kind);
}

/** Give a whole number or float bound, rounded to 4 significant figures so it reads well in a box. */
function tidy(n) {
  return Number(n.toPrecision(4));
}

/**
 * Give the FIELD a search starts from for a parameter now set to `value`, within the catalog's
 * bounds: a float a decade either side on a log scale (a fraction, such as a dropout rate, from
 * half to twice on a straight one), an int from half to twice, a choice with its current value.
 */
export function newField(param, value) {
  if (param.kind === "float") {
    const lowest = param.min ?? -Infinity;
    const highest = param.max ?? Infinity;
    if (highest <= 1) {
      const v = typeof value === "number" && value > 0 ? value : highest / 4;
      return { type: "float", low: tidy(Math.max(lowest, v / 2)), high: tidy(Math.min(highest, v * 2)) };
    }
    const v = typeof value === "number" && value > 0 ? value : 0.001;
    return { type: "float", low: tidy(Math.max(lowest, v / 10)), high: tidy(Math.min(highest, v * 10)), log: true };
  }
  if (param.kind === "int") {
    const v = typeof value === "number" && value >= 1 ? value : 16;
    const low = Math.max(param.min ?? 1, Math.floor(v / 2));
    return { type: "int", low, high: Math.max(low + 1, Math.min(param.max ?? Infinity, v * 2)) };
  }
  if (param.kind === "bool") return { type: "categorical", choices: [false, true] };
  return { type: "categorical", choices: value === null || value === undefined || value === "" ? [] : [value] };
}

/** Give choices as they are typed: "relu, tanh", "16, 32", "false, true", "3, [3, 5]" (a list stays one choice). */
export function choicesText(choices) {
  return (choices || []).map((c) => (typeof c === "string" ? c : JSON.stringify(c))).join(", ");
}

/**
 * Give the choices typed as a list (the commas inside [...] do not split). A choice parameter's are
 * text; any other's are read as JSON where they can be (16, 0.5, true, [3, 5]), else kept as typed.
 */
export function parseChoices(text, kind) {
  const parts = [];
  let depth = 0;
  let current = "";
  for (const ch of String(text)) {
    depth += ch === "[" ? 1 : ch === "]" ? -1 : 0;
    if (ch === "," && depth <= 0) {
      parts.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter(Boolean).map((p) => {
    if (kind === "choice") return p;
    try {
      return JSON.parse(p);
    } catch {
      return p;
    }
  });
}

/** Give a FIELD as text: "0.0001 … 0.1, log", "16 … 128 step 16", "relu | tanh". */
export function fieldText(field) {
  if (!field || typeof field !== "object") return "";
  if (field.type === "categorical") return (field.choices || []).map((c) => (typeof c === "string" ? c : JSON.stringify(c))).join(" | ");
  const extra = [field.log ? "log" : "", field.step ? `step ${field.step}` : ""].filter(Boolean);
  return `${field.low} … ${field.high}${extra.length ? `, ${extra.join(", ")}` : ""}`;
}

/**
 * Give a PATH as a reader wants it on an axis or a column: "dense.units" for model.layers.1.units
 * (the layer's Keras name, from `layers` when given), "learning_rate", "optimizer", "batch_size".
 */
export function pathLabel(path, layers) {
  const parts = String(path).split(".");
  if (parts[0] === "model" && parts[1] === "layers" && parts.length >= 4) {
    const at = parts[2];
    const names = Array.isArray(layers) ? layerNames(layers) : [];
    const name = /^\d+$/.test(at) && names[Number(at)] ? names[Number(at)] : at;
    return `${name}.${parts.slice(3).join(".")}`;
  }
  if (parts[0] === "compile" && parts[1] === "optimizer") return parts[2] === "type" ? "optimizer" : parts.slice(2).join(".");
  return parts.slice(1).join(".") || String(path);
}

/** Give the index of the layer a PATH part names: an index, a given name, or the name Keras gives it. */
function layerIndex(layers, part) {
  if (/^\d+$/.test(part)) return Number(part) < layers.length ? Number(part) : -1;
  const byName = layers.findIndex((layer) => layer && layer.name === part);
  return byName >= 0 ? byName : layerNames(layers).indexOf(part);
}

/**
 * Give a copy of the run spec `base` with each PATH of `params` set to its value. A new optimizer
 * type keeps the other arguments it takes (`optimizers`: the catalog's Map of type -> entry; without
 * it, all are kept). PATHs that name nothing in `base` are skipped.
 */
export function applyParams(base, params, optimizers = null) {
  const spec = JSON.parse(JSON.stringify(base || {}));
  const entries = Object.entries(params || {});
  // The type first: the optimizer's other sampled arguments then land on the new type.
  entries.sort(([a], [b]) => Number(b === "compile.optimizer.type") - Number(a === "compile.optimizer.type"));
  for (const [path, value] of entries) {
    const parts = path.split(".");
    if (parts[0] === "model" && parts[1] === "layers" && parts.length === 4) {
      const layers = (spec.model && spec.model.layers) || [];
      const at = layerIndex(layers, parts[2]);
      if (at >= 0) layers[at][parts[3]] = value;
    } else if (path === "compile.optimizer.type" && spec.compile) {
      spec.compile.optimizer = retyped(spec.compile.optimizer, value, optimizers);
    } else if (parts[0] === "compile" && parts[1] === "optimizer" && parts.length === 3 && spec.compile) {
      if (typeof spec.compile.optimizer !== "object" || spec.compile.optimizer === null) {
        spec.compile.optimizer = { type: spec.compile.optimizer };
      }
      spec.compile.optimizer[parts[2]] = value;
    } else if (parts[0] === "fit" && parts.length === 2 && spec.fit) {
      spec.fit[parts[1]] = value;
    }
  }
  return spec;
}

/** Give the optimizer as `type`, keeping the arguments that type takes. */
function retyped(optimizer, type, optimizers) {
  const given = typeof optimizer === "object" && optimizer !== null ? optimizer : {};
  const entry = optimizers ? optimizers.get(type) : null;
  const takes = entry ? new Set(entry.params.map((p) => p.name)) : null;
  const kept = Object.entries(given).filter(([key]) => key !== "type" && (!takes || takes.has(key)));
  return { type, ...Object.fromEntries(kept) };
}

/**
 * Give the builder's space after its layers changed from `before` to `after` (arrays of layer
 * objects): a layer's searches follow it to its new index (the same object, else the same Keras
 * name and type, for edits that copy layers), and go with it when it is removed.
 */
export function carrySpace(space, before, after) {
  const oldNames = layerNames(before);
  const newNames = layerNames(after);
  const moved = new Map();
  before.forEach((layer, i) => {
    let j = after.indexOf(layer);
    if (j < 0) j = newNames.findIndex((name, k) => name === oldNames[i] && after[k].type === layer.type);
    if (j >= 0) moved.set(i, j);
  });
  const out = {};
  for (const [path, field] of Object.entries(space)) {
    const match = /^model\.layers\.(\d+)\.(.+)$/.exec(path);
    if (!match) out[path] = field;
    else if (moved.has(Number(match[1]))) out[`model.layers.${moved.get(Number(match[1]))}.${match[2]}`] = field;
  }
  return out;
}

/**
 * Give the builder's space without the PATHs that name nothing in `spec` any more (a layer gone, an
 * argument the new optimizer type does not take). `cat` is the indexed catalog (spec.js).
 */
export function pruneSpace(space, spec, cat) {
  const out = {};
  for (const [path, field] of Object.entries(space)) {
    const parts = path.split(".");
    let params = null;
    if (parts[0] === "model") {
      const layer = spec.model.layers[Number(parts[2])];
      params = layer && cat.layers.get(layer.type) ? cat.layers.get(layer.type).params : [];
    } else if (path !== "compile.optimizer.type" && parts[0] === "compile") {
      const entry = cat.optimizers.get(spec.compile.optimizer.type);
      params = entry ? entry.params : [];
    }
    if (!params || params.some((p) => p.name === parts[parts.length - 1] && searchable(path, p.kind))) out[path] = field;
  }
  return out;
}
