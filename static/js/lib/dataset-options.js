// The builder's dataset options: the fields of a text, sequence or series dataset's `dataset_options`
// (GET /api/datasets lists what each dataset takes), editing spec.dataset_options in place.

import { el, replaceChildren } from "./dom.js";

// The options offered per kind (the API takes them all); a kind not named here offers its whole numbers.
const SHOWN = { sequence: ["num_words", "maxlen"] };

/** Give the model's input shape for the dataset with the spec's options (webapp/datasets/options.py's, for sequences). */
export function inputShape(dataset, spec) {
  const opts = spec.dataset_options || {};
  if (dataset.kind !== "sequence") return dataset.input_shape;
  return opts.mode === "binary" ? [opts.num_words ?? null] : [opts.maxlen ?? null];
}

/** Draw the dataset's options as number fields in `holder`; an edit sets spec.dataset_options, then calls onChange(). */
export function renderDatasetOptions(holder, dataset, spec, onChange) {
  const offered = dataset && dataset.kind && dataset.kind !== "image" ? (dataset.dataset_options || []) : [];
  const names = SHOWN[dataset && dataset.kind];
  const shown = offered.filter((o) => (names ? names.includes(o.name) : o.kind === "int"));
  holder.hidden = shown.length === 0;
  replaceChildren(holder, shown.map((o) => field(o, spec, onChange)));
}

/** Give one option's labelled number field. */
function field(option, spec, onChange) {
  const id = `dataset-option-${option.name}`;
  const value = (spec.dataset_options || {})[option.name];
  const input = el("input", {
    id, type: "number", min: option.min ?? null, max: option.max ?? null, step: 1,
    placeholder: option.default === null ? "all" : String(option.default), value: value ?? "",
  });
  input.addEventListener("change", () => {
    const options = { ...(spec.dataset_options || {}) };
    if (input.value === "") delete options[option.name];
    else options[option.name] = Number(input.value);
    if (Object.keys(options).length) spec.dataset_options = options;
    else delete spec.dataset_options;
    onChange();
  });
  return el("div", { class: "field", "data-field": `dataset_options.${option.name}`, title: option.help || "" },
    el("label", { for: id, text: option.name }), input);
}
