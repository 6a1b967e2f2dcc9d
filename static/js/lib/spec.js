// The run spec on the page: catalog look-ups, defaults, presets, Keras layer names, and saving.
// The spec is plain JSON in the contract's form, so it can be posted, exported and stored as is.

/** Give the catalog (GET /api/layers) indexed by type and name. */
export function indexCatalog(catalog) {
  return {
    raw: catalog,
    layers: new Map(catalog.layers.map((e) => [e.type, e])),
    optimizers: new Map(catalog.optimizers.map((e) => [e.type, e])),
    losses: catalog.losses,
    metrics: catalog.metrics,
    callbacks: catalog.callbacks,
    fit: catalog.fit,
  };
}

const copy = (value) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

/** Give `given`'s parameters with every missing one set to its catalog default. */
function fillParams(params, given, cat) {
  const out = { ...given };
  for (const p of params) {
    if (p.kind === "layer") out[p.name] = fillInner(p, given[p.name] ?? copy(p.default), cat);
    else if (!(p.name in out)) out[p.name] = copy(p.default);
  }
  return out;
}

/** Give Bidirectional's wrapped layer with its own defaults filled in. */
function fillInner(param, inner, cat) {
  const entry = inner && cat.layers.get(inner.type);
  if (!entry || !param.choices.includes(inner.type)) return inner;
  return { type: inner.type, ...fillParams(entry.params, inner, cat) };
}

/** Give a layer with every parameter the catalog knows filled in; unknown types are kept as they are. */
export function withDefaults(layer, cat) {
  const entry = layer && cat.layers.get(layer.type);
  if (!entry) return copy(layer);
  return { type: layer.type, ...fillParams(entry.params, copy(layer), cat) };
}

/** Give a new layer of this type with the catalog's defaults, as "Add layer" inserts it. */
export function newLayer(type, cat) {
  return withDefaults({ type }, cat);
}

/** Give an optimizer of this type with its defaults, keeping any values given in `overrides`. */
export function newOptimizer(type, cat, overrides = {}) {
  const entry = cat.optimizers.get(type);
  return { type, ...fillParams(entry ? entry.params : [], overrides, cat) };
}

/** Give a callback's settings with its defaults filled in. */
export function newCallback(name, cat, given = {}) {
  return fillParams(cat.callbacks[name] || [], given, cat);
}

/** Give the compile options a new model starts with. */
export function defaultCompile(cat) {
  return { optimizer: newOptimizer("Adam", cat), loss: "categorical_crossentropy", metrics: ["accuracy"] };
}

/** Give the fit options a new model starts with: catalog defaults, test split as validation. */
export function defaultFit(cat, given = {}) {
  const fit = fillParams(cat.fit, given, cat);
  fit.validation = given.validation ?? "test";
  fit.callbacks = {};
  for (const name of Object.keys(cat.callbacks)) {
    const value = given.callbacks ? given.callbacks[name] : null;
    fit.callbacks[name] = value ? newCallback(name, cat, value === true ? {} : value) : null;
  }
  return fit;
}

/** Give compile options (as imported or stored) with defaults filled in. */
export function normalizeCompile(compile, cat) {
  if (!compile || typeof compile !== "object") return defaultCompile(cat);
  let optimizer = compile.optimizer ?? "Adam";
  if (typeof optimizer === "string") optimizer = { type: optimizer };
  const type = [...cat.optimizers.keys()].find((t) => t.toLowerCase() === String(optimizer.type).toLowerCase());
  const { type: _ignored, ...given } = optimizer;
  return {
    optimizer: type ? newOptimizer(type, cat, given) : optimizer,
    loss: compile.loss ?? "categorical_crossentropy",
    metrics: Array.isArray(compile.metrics) ? [...compile.metrics] : ["accuracy"],
  };
}

/** Give a whole spec (as stored or imported) with every default filled in. */
export function normalizeSpec(spec, cat, datasetId) {
  const layers = spec && spec.model && Array.isArray(spec.model.layers) ? spec.model.layers : [];
  return {
    name: typeof spec?.name === "string" ? spec.name : "",
    dataset: typeof spec?.dataset === "string" ? spec.dataset : datasetId,
    model: { layers: layers.map((layer) => withDefaults(layer, cat)) },
    compile: normalizeCompile(spec?.compile, cat),
    fit: defaultFit(cat, spec?.fit && typeof spec.fit === "object" ? spec.fit : {}),
    // An imported script's predict step: the test images the gallery opens on after training.
    ...(spec?.predict && typeof spec.predict === "object" ? { predict: spec.predict } : {}),
    // The dataset's options (imdb's num_words, maxlen...): kept as given, the server checks them.
    ...(isOptions(spec?.dataset_options) ? { dataset_options: { ...spec.dataset_options } } : {}),
  };
}

/** Say whether a value is a non-empty dataset_options object. */
function isOptions(value) {
  return Boolean(value) && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0;
}

/** Give Keras's default layer name for a class name: Conv2D -> conv2d, SimpleRNN -> simple_rnn. */
export function snakeCase(name) {
  return name.replace(/(.)([A-Z][a-z]+)/g, "$1_$2").replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/**
 * Give each layer its name: the given one, else the one a fresh Keras session gives it (dense,
 * dense_1, conv2d...), skipping names given to other layers (as webapp/spec/graph.py does).
 */
export function layerNames(layers) {
  const taken = new Set(layers.filter((l) => l && typeof l.name === "string" && l.name).map((l) => l.name));
  const seen = new Map();
  return layers.map((layer) => {
    if (layer && typeof layer.name === "string" && layer.name) return layer.name;
    const base = snakeCase(String(layer?.type ?? "layer"));
    let name;
    do {
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      name = count === 0 ? base : `${base}_${count}`;
    } while (taken.has(name));
    return name;
  });
}

const PRESETS = {
  mlp: {
    label: "Small MLP",
    layers: (d) => [
      { type: "Flatten" },
      { type: "Dense", units: 64, activation: "relu" },
      { type: "Dropout", rate: 0.2 },
      { type: "Dense", units: d.num_classes, activation: "softmax" },
    ],
    optimizer: { type: "Adam", learning_rate: 0.001 },
    fit: { epochs: 10, batch_size: 32 },
  },
  // The classic Keras MNIST example (keras/examples/mnist_cnn.py): Adadelta at 1.0, batches of 128.
  mnist_convnet: {
    label: "MNIST convnet",
    layers: (d) => [
      { type: "Conv2D", filters: 32, kernel_size: [3, 3], activation: "relu" },
      { type: "Conv2D", filters: 64, kernel_size: [3, 3], activation: "relu" },
      { type: "MaxPooling2D", pool_size: [2, 2] },
      { type: "Dropout", rate: 0.25 },
      { type: "Flatten" },
      { type: "Dense", units: 128, activation: "relu" },
      { type: "Dropout", rate: 0.5 },
      { type: "Dense", units: d.num_classes, activation: "softmax" },
    ],
    optimizer: { type: "Adadelta", learning_rate: 1.0 },
    fit: { epochs: 12, batch_size: 128 },
  },
  // Each image row is one time step whose features are that row's pixels (all channels).
  lstm_rows: {
    label: "LSTM over rows",
    layers: (d) => [
      { type: "Reshape", target_shape: [d.input_shape[0], d.input_shape.slice(1).reduce((a, b) => a * b, 1)] },
      { type: "LSTM", units: 64 },
      { type: "Dense", units: d.num_classes, activation: "softmax" },
    ],
    optimizer: { type: "Adam", learning_rate: 0.001 },
    fit: { epochs: 10, batch_size: 64 },
  },
};

// The augmentation block, as Keras's image-classification examples start a model: it acts during
// fit only. The dataset page previews the same layers on one image.
export const AUGMENTATION = [
  { type: "RandomFlip", mode: "horizontal" },
  { type: "RandomRotation", factor: 0.1 },
  { type: "RandomZoom", height_factor: 0.1 },
];

/** Give the layers with the augmentation block first (replacing one already there). */
export function withAugmentation(layers) {
  const rest = layers.filter((layer) => !AUGMENTATION.some((a) => a.type === layer.type));
  return [...AUGMENTATION.map((layer) => ({ ...layer })), ...rest];
}

/** Give the preset's whole spec, shaped for this dataset (its input shape and number of classes). */
export function presetSpec(key, dataset, cat) {
  const preset = PRESETS[key];
  return normalizeSpec({
    name: key.replace(/_/g, "-"),
    dataset: dataset.id,
    model: { layers: preset.layers(dataset) },
    compile: { optimizer: preset.optimizer, loss: "categorical_crossentropy", metrics: ["accuracy"] },
    fit: { ...preset.fit, validation: "test", shuffle: true },
  }, cat, dataset.id);
}

const STORAGE_KEY = "keras-dashboard:builder:spec";

/** Give the spec saved by the last visit, or null when there is none (or it cannot be read). */
export function loadSaved() {
  try {
    const data = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || "null");
    return data && typeof data === "object" && data.model ? data : null;
  } catch {
    return null;   // private mode or a corrupt entry: start fresh rather than break the page
  }
}

/** Keep the spec in localStorage, so a reload keeps the work. */
export function save(spec) {
  try {
    window.localStorage.setItem(STORAGE_KEY, JSON.stringify(spec));
  } catch {
    // Storage full or disabled: the page still works, only without keeping work across reloads.
  }
}

const SPACE_KEY = "keras-dashboard:builder:space";

/** Give the sweep space saved with the builder's spec ({PATH: FIELD}), or {} when there is none. */
export function loadSavedSpace() {
  try {
    const data = JSON.parse(window.localStorage.getItem(SPACE_KEY) || "null");
    return data && typeof data === "object" && !Array.isArray(data) ? data : {};
  } catch {
    return {};
  }
}

/** Keep the builder's sweep space in localStorage beside its spec. */
export function saveSpace(space) {
  try {
    window.localStorage.setItem(SPACE_KEY, JSON.stringify(space));
  } catch {
    // As save(): the page works on, only without keeping the space across reloads.
  }
}

const ASKED_LAYER = "kd-open-layer";
/** What the builder's "Find a learning rate" adds to the name of the range test it starts ("Use this rate" takes it off). */
export const RANGE_TEST_SUFFIX = " · learning-rate test";

/** Hand a spec to the builder (as its saved work, with no field searched) and open it; `layer`: a layer name to show. */
export function openInBuilder(spec, layer = null) {
  save(spec);
  saveSpace({});
  if (layer) sessionStorage.setItem(ASKED_LAYER, layer);
  window.location.assign("/");
}

/** Give the layer name another page asked the builder to show (once), or null. */
export function askedLayer() {
  const layer = sessionStorage.getItem(ASKED_LAYER);
  sessionStorage.removeItem(ASKED_LAYER);
  return layer;
}
