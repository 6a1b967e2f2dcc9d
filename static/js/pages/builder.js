// The model builder page. `spec` below is the single source of truth: every form edits it in
// place, every drawing is made from it, and every change is checked live by POST /api/models/check.

import { ApiError, postJSON } from "../lib/api.js";
import { byId, debounce, el, grouped, replaceChildren, shapeText } from "../lib/dom.js";
import { clearErrors, placeErrors } from "../lib/field-errors.js";
import {
  cardShapes, onCardActions, renderAddPositions, renderAddTypes, renderLayers, renderMergeWith, showCardShapes,
} from "../lib/layer-list.js";
import { backboneText, labelOptions, loadBackbones } from "../lib/backbones.js";
import { branch, mergeAt, removeLayer } from "../lib/graph-edit.js";
import { drawGraph } from "../lib/graph-view.js";
import { renderCompile, renderFit } from "../lib/settings-form.js";
import {
  askedLayer, defaultFit, indexCatalog, loadSaved, loadSavedSpace, newLayer, normalizeCompile, normalizeSpec, presetSpec, save,
  saveSpace, withAugmentation, withDefaults,
} from "../lib/spec.js";
import { showFailedSummary, showStatus, showSummary } from "../lib/summary.js";
import { showNotes } from "../lib/import-notes.js";
import { setupExport, setupImport } from "../lib/transfer-panel.js";
import { carrySpace, pruneSpace } from "../lib/sweep-space.js";
import { setupRunSlot } from "../lib/run-slot.js";
import { inputShape, renderDatasetOptions } from "../lib/dataset-options.js";

const page = JSON.parse(byId("page-data").textContent);
const cat = indexCatalog(page.catalog);
const datasets = page.datasets || [];
const firstDataset = datasets.find((d) => d.available) || datasets[0] || null;
const root = document.querySelector(".builder");
const layerList = byId("layer-list");
const general = byId("general-errors");
const summary = { body: document.querySelector("#summary-table tbody"), totals: byId("summary-totals"), warnings: byId("summary-warnings") };
const checkStatus = byId("check-status");

let spec = startingSpec();
// The fields a sweep would search, {PATH: FIELD} (layers by index), kept beside the spec.
let space = pruneSpace(loadSavedSpace(), spec, cat);
let runSlot = null;   // Train and Start sweep (run-slot.js), wired below

/** Give the spec to start with: the one kept from the last visit, else the Small MLP preset. */
function startingSpec() {
  const saved = loadSaved();
  if (saved) return normalizeSpec(saved, cat, firstDataset ? firstDataset.id : "");
  return firstDataset ? presetSpec("mlp", firstDataset, cat) : normalizeSpec({}, cat, "");
}

/** Give the description of the spec's dataset (or the first one, before any is chosen). */
function currentDataset() {
  return datasets.find((d) => d.id === spec.dataset) || firstDataset;
}

// The sweep's space as the forms' "search" toggles read and write it.
const search = {
  get: (path) => space[path],
  set(path, field) {
    if (field) space[path] = field;
    else delete space[path];
    spaceChanged();
  },
};

// What the layer cards and settings forms need: the catalog, what to do after an edit, the space.
const formContext = { cat, newLayer: (type) => newLayer(type, cat), onChange: changed, search };

/** Keep the edit and check the model again (field edits: the forms are already up to date). */
function changed() {
  save(spec);
  spaceChanged();
  requestCheck();
}

/** Keep the space (without searches of fields that are gone) and show the sweep button when it has any. */
function spaceChanged() {
  space = pruneSpace(space, spec, cat);
  saveSpace(space);
  if (runSlot) runSlot.refresh();
}

/** Redraw the layer list after layers were added, moved, removed or replaced, then check. */
function layersChanged() {
  drawLayers();
  changed();
}

/** Change the layers with `edit()`; each searched layer field follows its layer to its new place. */
function editLayers(edit) {
  const before = spec.model.layers.slice();
  edit();
  space = carrySpace(space, before, spec.model.layers);
  layersChanged();
}

/** Draw the layer cards, the add bar's positions and the model's drawing from the spec. */
function drawLayers() {
  renderLayers(layerList, spec.model.layers, formContext);
  renderAddPositions(byId("add-layer-position"), spec.model.layers);
  renderMergeWith(byId("add-merge-with"), spec.model.layers);
  drawModel(null);
}

/** Draw the model as a graph (rows: the check's layers, or null); a node opens its layer's card. */
function drawModel(rows) {
  const holder = byId("model-graph");
  holder.dataset.state = rows ? "checked" : "drawn";
  drawGraph(holder, spec.model.layers, rows, (index) => {
    const card = layerList.querySelector(`.layer-card[data-layer-index="${index}"]`);
    if (!card) return;
    card.scrollIntoView({ block: "nearest" });
    const field = card.querySelector("input, select");
    (field || card).focus();
  });
}

/** Draw the compile and fit forms from the spec. */
function drawSettings() {
  renderCompile(byId("compile-fields"), spec, formContext);
  renderFit(byId("fit-fields"), spec, formContext);
}

/** Draw the dataset picker, its description and the notes on datasets that cannot be used here. */
function drawDatasets() {
  const select = byId("dataset-select");
  replaceChildren(select, datasets.map((d) => el("option", {
    value: d.id, disabled: !d.available, title: d.available ? null : d.message || "Not available here.",
    text: d.available ? d.name : `${d.name} (unavailable)`,
  })));
  select.value = spec.dataset;
  const unavailable = datasets.filter((d) => !d.available);
  byId("dataset-notes").hidden = unavailable.length === 0;
  byId("dataset-notes-title").textContent = `${unavailable.length} dataset${unavailable.length === 1 ? " is" : "s are"} not available here (show why)`;
  replaceChildren(byId("dataset-notes-list"), unavailable.map((d) =>
    el("li", {}, el("strong", { text: d.name }), `: ${d.message || "not available here."}`)));
  drawDatasetInfo();
  drawDatasetOptions();
}

/** Show the chosen dataset's input shape, classes and sizes. */
function drawDatasetInfo() {
  const d = currentDataset();
  const info = byId("dataset-info");
  if (!d) {
    info.textContent = "No dataset is available.";
    return;
  }
  const names = d.class_names || [];
  const shown = names.length > 12 ? [...names.slice(0, 10), "…"] : names;
  replaceChildren(info,
    el("span", { class: "pill", text: `input ${shapeText(inputShape(d, spec))}` }),
    el("span", { class: "pill", title: names.join(", "), text: `${d.num_classes} classes: ${shown.join(", ")}` }),
    d.train_size !== undefined ? el("span", { class: "pill", text: `${grouped(d.train_size)} train / ${grouped(d.test_size)} test` }) : null);
  byId("input-note").textContent = `input ${shapeText([null, ...inputShape(d, spec)])}`;
}

/** Draw the dataset's options (num_words, maxlen for imdb and reuters); an edit redraws the input note and checks. */
function drawDatasetOptions() {
  renderDatasetOptions(byId("dataset-options"), currentDataset(), spec, () => {
    drawDatasetInfo();
    changed();
  });
}

/** Draw the whole page from the spec (start, presets). */
function drawAll() {
  byId("model-name").value = spec.name;
  drawDatasets();
  drawLayers();
  drawSettings();
}

// The live check: debounced, and only the answer to the latest request is shown.
let checkSeq = 0;
let inflight = null;
const scheduleCheck = debounce(runCheck, 250);

/** Ask for a check of the spec once edits pause for 250 ms. */
function requestCheck() {
  showStatus(checkStatus, "pending", "checking…");
  scheduleCheck();
}

/** Post the spec to the check API; an answer to an older request is dropped (sequence and abort). */
async function runCheck() {
  const seq = ++checkSeq;
  if (inflight) inflight.abort();
  inflight = new AbortController();
  try {
    const result = await postJSON("/api/models/check", spec, { signal: inflight.signal });
    if (seq === checkSeq) showResult(result);
  } catch (error) {
    if (seq !== checkSeq || error.name === "AbortError") return;
    if (error instanceof ApiError && error.status === 422 && error.body && Array.isArray(error.body.errors)) {
      showProblems(error.body.errors);
      if (error.body.errors.every(onlySettings)) await checkModelAlone(seq);
    } else {
      showProblems([{ layer: null, field: null, message: `Could not check the model: ${error.message}` }]);
    }
  }
}

/** Say whether an error is about compile or fit alone (the layers themselves may well build). */
function onlySettings(error) {
  return (error.layer === null || error.layer === undefined) && /^(compile|fit)(\.|$)/.test(error.field || "");
}

/** With only compile or fit wrong, still show the layers' shapes: check the model without them. */
async function checkModelAlone(seq) {
  try {
    const alone = { name: spec.name, dataset: spec.dataset, model: spec.model };
    if (spec.dataset_options) alone.dataset_options = spec.dataset_options;
    const result = await postJSON("/api/models/check", alone, { signal: inflight.signal });
    if (seq !== checkSeq) return;
    showSummary(summary, result);
    showCardShapes(layerList, cardShapes(spec.model.layers, result.layers));
  } catch {
    // The layers do not build either: the marks already shown stay.
  }
}

/** Show a model that builds: the summary, each card's output shape, no errors. */
function showResult(result) {
  clearErrors(root, general);
  drawModel(result.layers);
  showSummary(summary, result);
  showCardShapes(layerList, cardShapes(spec.model.layers, result.layers));
  showStatus(checkStatus, "ok", "✓ builds");
}

/** Show a model that does not build: each error at its field, the failing rows marked. */
function showProblems(errors) {
  clearErrors(root, general);
  const byLayer = placeErrors(root, layerList, general, errors);
  showFailedSummary(summary, spec.model.layers, byLayer);
  showCardShapes(layerList, null);
  showStatus(checkStatus, "error", `✖ ${errors.length} problem${errors.length === 1 ? "" : "s"}`);
}

/** Replace the model (and compile, fit and predict, when given) with what an import gave; show its notes. */
function applyImport(result, reimport) {
  spec.model = { layers: (result.model && result.model.layers ? result.model.layers : []).map((l) => withDefaults(l, cat)) };
  if (result.compile) spec.compile = normalizeCompile(result.compile, cat);
  if (result.fit) spec.fit = defaultFit(cat, result.fit);
  if (result.predict) spec.predict = result.predict;
  else delete spec.predict;
  applyImportedDataset(result.dataset);
  // The searches were of the model the import replaces; a Keras Tuner script brings its own sweep.
  space = result.sweep && result.sweep.space ? pruneSpace(result.sweep.space, spec, cat) : {};
  if (result.sweep) runSlot.prefill(result.sweep);
  drawLayers();
  drawSettings();
  showNotes(result, root, reimport);
  changed();
}

/**
 * Select the dataset an imported script loads, with its options (num_words, maxlen...): by id, or
 * for a text folder (`id` null) an uploaded text dataset named as the folder or its last part.
 * When this instance has none, the choice stays the user's (the import's notes say what to upload).
 */
function applyImportedDataset(found) {
  const line = byId("dataset-imported");
  line.hidden = !found;
  if (!found) return;
  const usable = datasets.filter((d) => d.available);
  let match = found.id ? usable.find((d) => d.id === found.id) : null;
  const folder = typeof found.folder === "string" ? found.folder : null;
  if (!match && !found.id && folder) {
    const tail = folder.split("/").filter(Boolean).pop();
    match = usable.find((d) => d.kind === "text" && (d.name === folder || d.name === tail));
  }
  if (!match) {
    line.textContent = found.id
      ? `The script loads ${found.id}, which is not available here; the dataset stays as chosen.`
      : `The script reads the text folder ${folder ? `“${folder}”` : "it names"}: upload it as a text dataset ` +
        "(a .zip or .tar.gz of its class folders), then pick it here.";
    return;
  }
  spec.dataset = match.id;
  const options = found.options && typeof found.options === "object" ? found.options : {};
  if (Object.keys(options).length) spec.dataset_options = { ...options };
  else delete spec.dataset_options;
  drawDatasets();
  line.textContent = `${match.name} is selected: the imported script loads it.`;
}

/** Connect the model name, the dataset picker and the preset buttons to the spec. */
function wireHead() {
  byId("model-name").addEventListener("input", (e) => {
    spec.name = e.target.value;
    changed();
  });
  byId("dataset-select").addEventListener("change", (e) => {
    spec.dataset = e.target.value;
    delete spec.dataset_options;   // options belong to the dataset they were chosen for
    byId("dataset-imported").hidden = true;
    drawDatasetInfo();
    drawDatasetOptions();
    changed();
  });
  for (const button of document.querySelectorAll("button[data-preset]")) {
    button.addEventListener("click", () => {
      const dataset = currentDataset();
      if (!dataset) return;
      spec = presetSpec(button.dataset.preset, dataset, cat);
      space = {};
      byId("import-notes").hidden = true;   // the notes spoke of the imported model, which is gone
      byId("dataset-imported").hidden = true;
      drawAll();
      changed();
    });
  }
}

/** Connect the add bar and the cards' move/remove buttons to the spec's layer list. */
function wireLayers() {
  const typeSelect = byId("add-layer-type");
  renderAddTypes(typeSelect, cat);
  const showDoc = () => {
    const entry = cat.layers.get(typeSelect.value);
    byId("add-layer-doc").textContent = entry ? [entry.doc, backboneText(typeSelect.value)].filter(Boolean).join(" ") : "";
    byId("merge-with-field").hidden = !isMerge(typeSelect.value);
  };
  typeSelect.addEventListener("change", showDoc);
  showDoc();
  loadBackbones().then(() => { labelOptions(typeSelect); showDoc(); });
  byId("add-layer").addEventListener("click", () => {
    const where = byId("add-layer-position").value;
    const at = where === "end" ? spec.model.layers.length : Number(where);
    const layer = newLayer(typeSelect.value, cat);
    editLayers(() => {
      if (isMerge(typeSelect.value)) spec.model.layers = mergeAt(spec.model.layers, at, layer, byId("add-merge-with").value);
      else spec.model.layers.splice(at, 0, layer);
    });
  });
  byId("add-augmentation").addEventListener("click", () => editLayers(() => {
    spec.model.layers = withAugmentation(spec.model.layers).map((layer) => withDefaults(layer, cat));
  }));
  onCardActions(layerList, {
    move(index, delta) {
      const layers = spec.model.layers;
      const to = index + delta;
      if (to < 0 || to >= layers.length) return;
      editLayers(() => { [layers[index], layers[to]] = [layers[to], layers[index]]; });
    },
    remove(index) {
      editLayers(() => { spec.model.layers = removeLayer(spec.model.layers, index); });
    },
    branch(index) {
      editLayers(() => { spec.model.layers = branch(spec.model.layers, index, newLayer(typeSelect.value, cat)); });
    },
  });
}

/** Scroll to and focus the layer a run page's warning named (lib/spec.js askedLayer), if any. */
function showAskedLayer() {
  const name = askedLayer();
  const card = name && [...layerList.querySelectorAll(".layer-card")]
    .find((c) => c.querySelector(".layer-name").textContent === name);
  if (!card) return;
  card.scrollIntoView({ block: "center" });
  card.dataset.asked = "true";
  const field = card.querySelector("input, select");
  if (field) field.focus({ preventScroll: true });
}

/** Say whether a layer type merges two or more inputs (Add, Concatenate...). */
function isMerge(type) {
  const entry = cat.layers.get(type);
  return Boolean(entry && entry.min_inputs);
}

wireHead();
wireLayers();
runSlot = setupRunSlot({
  cat, me: page.me, getSpec: () => spec, getSpace: () => space, root, layerList, general, showProblems,
});
setupImport(applyImport);
setupExport(() => spec);
drawAll();
save(spec);
requestCheck();
showAskedLayer();
