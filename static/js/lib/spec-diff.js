// What differs between run specs: each canonical spec flattened to dotted paths such as
// model.layers[2].units or compile.optimizer.learning_rate, lined up row by row. A graph spec's
// layers are keyed by name (model.layers[add].inputs), so an added branch adds rows of its own
// instead of shifting every later index, and a rewired input is one differing row.

/** Give a leaf value as a reader wants it: 0.001, relu, [3, 3], true, null. */
export function valueText(value) {
  if (value === undefined) return "—";
  if (Array.isArray(value)) return `[${value.map(valueText).join(", ")}]`;
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

/** Tell whether an array holds objects (layers), which get a path each, or plain values (a shape). */
function ofObjects(values) {
  return values.some((v) => v !== null && typeof v === "object" && !Array.isArray(v));
}

/** Add every leaf of `value` under `path` to `out` (a Map path -> value), in the spec's order. */
function walk(value, path, out) {
  if (Array.isArray(value) && ofObjects(value)) {
    value.forEach((item, i) => walk(item, `${path}[${i}]`, out));
  } else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (!keys.length) out.set(path, value);
    // The layer's type first: the rows under a layer then read "Dense, units 64, ...".
    const ordered = keys.includes("type") ? ["type", ...keys.filter((k) => k !== "type")] : keys;
    for (const key of ordered) walk(value[key], path ? `${path}.${key}` : key, out);
  } else {
    out.set(path, value);
  }
}

/** Tell whether a spec's layers name their inputs (a functional graph) rather than stack. */
function isGraph(layers) {
  return layers.some((l) => l && Array.isArray(l.inputs));
}

/** Give a graph's layers keyed by name, and the merges as "add ← stem + conv2d_1" (its branches). */
function walkGraph(layers, out) {
  const merges = layers.filter((l) => l && Array.isArray(l.inputs) && l.inputs.length > 1);
  out.set("merges", merges.map((l) => `${l.name} ← ${l.inputs.join(" + ")}`).join("; ") || "none");
  layers.forEach((layer, i) => {
    const key = (layer && typeof layer.name === "string") ? layer.name : String(i);
    const { name, ...rest } = layer || {};
    walk(rest, `model.layers[${key}]`, out);
  });
}

/**
 * Give a spec's rows as a Map path -> value: a layer count and the layer types first (and a
 * graph's merges), then every leaf (the run's name is left out: it heads the column).
 */
export function flattenSpec(spec) {
  const out = new Map();
  const layers = (spec && spec.model && Array.isArray(spec.model.layers)) ? spec.model.layers : [];
  out.set("layers (count)", layers.length);
  out.set("layer types", layers.map((l) => (l && l.type) || "?").join(" → "));
  const graph = isGraph(layers);
  if (graph) walkGraph(layers, out);
  // The spec's own order (JSON answers come with sorted keys); the name heads the column instead.
  const keys = Object.keys(spec || {}).filter((k) => k !== "name");
  const order = ["dataset", "model", "compile", "fit"];
  for (const key of [...order.filter((k) => keys.includes(k)), ...keys.filter((k) => !order.includes(k))]) {
    if (key === "model" && graph) continue;
    walk(spec[key], key, out);
  }
  return out;
}

/** Give the union of the paths of several flattened specs, each run's own order kept. */
function mergedPaths(flats) {
  const paths = [];
  for (const flat of flats) {
    let at = -1;
    for (const path of flat.keys()) {
      const found = paths.indexOf(path);
      if (found >= 0) {
        at = found;
      } else {
        paths.splice(at + 1, 0, path);
        at += 1;
      }
    }
  }
  return paths;
}

/**
 * Give the rows comparing specs: [{path, values: [text per spec], differs}], in spec order.
 *
 * Example:
 *   specRows([a.spec, b.spec]).filter((r) => r.differs)
 *   // [{path: "model.layers[1].units", values: ["64", "32"], differs: true}, ...]
 */
export function specRows(specs) {
  const flats = specs.map(flattenSpec);
  return mergedPaths(flats).map((path) => {
    const values = flats.map((flat) => valueText(flat.has(path) ? flat.get(path) : undefined));
    return { path, values, differs: values.some((v) => v !== values[0]) };
  });
}
