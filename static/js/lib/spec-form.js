// Form fields generated from the catalog's parameter descriptions (GET /api/layers).
//
// A field edits `target[param.name]` in place (the spec is the single source of truth) and calls
// `ctx.onChange()`. What cannot be read as the parameter's kind is kept as typed, so the server's
// check names the field and says what it accepts. With `ctx.search` a numeric or choice field also
// gets a "search" toggle for a sweep (search-field.js); its PATH is `ctx.pathPrefix` + its name.

import { el } from "./dom.js";
import { addSearch } from "./search-field.js";

let uid = 0;

/** Give "3, 3" for [3, 3], "3" for 3, "" for null. */
export function formatInts(value) {
  if (value === null || value === undefined) return "";
  return Array.isArray(value) ? value.join(", ") : String(value);
}

/** Give the ints typed as "3, 3" (or "3x3"): a list, a single int for length 1, or the raw text. */
export function parseInts(text, param) {
  const trimmed = text.trim();
  if (trimmed === "") return param.nullable ? null : trimmed;
  const parts = trimmed.split(/[\s,x×()[\]]+/).filter(Boolean);
  if (!parts.every((p) => /^-?\d+$/.test(p))) return trimmed;
  const ints = parts.map(Number);
  if (param.kind === "shape") return ints;
  if (param.length === 1) return ints.length === 1 ? ints[0] : ints;
  // Keras reads kernel_size=3 as (3, 3); so does this field.
  return ints.length === 1 ? Array(param.length).fill(ints[0]) : ints;
}

/** Give the number typed, null for an empty box, or the raw text when it is not a number. */
function parseNumber(input) {
  const text = input.value.trim();
  if (text === "") return input.validity.badInput ? "?" : null;
  const n = Number(text);
  return Number.isFinite(n) ? n : text;
}

/** Give a readable label for a parameter name: kernel_size -> kernel size. */
export function labelOf(name) {
  return name.replace(/_/g, " ");
}

/** Give a number box (int or float) with the catalog's bounds. */
function numberInput(param, value, common, set) {
  return el("input", {
    ...common, type: "number", inputmode: param.kind === "int" ? "numeric" : "decimal",
    step: param.kind === "int" ? "1" : "any", min: param.min, max: param.max,
    placeholder: param.nullable ? "None" : null, value: value === null || value === undefined ? "" : String(value),
    on: { input: (e) => set(parseNumber(e.target)) },
  });
}

/** Give a select of the parameter's choices. */
function choiceInput(param, value, common, set) {
  const options = param.choices.map((c) => el("option", { value: c, text: c }));
  // A nullable activation means "linear" to Keras; other nullable choices get a None option.
  if (param.nullable && param.name !== "activation") options.unshift(el("option", { value: "", text: "None" }));
  return el("select", {
    ...common, value: value === null || value === undefined ? "" : String(value),
    on: { change: (e) => set(e.target.value === "" ? null : e.target.value) },
  }, options);
}

/** Give a text box for ints ("3, 3") or a shape ("8, 8"). */
function intsInput(param, value, common, set) {
  const example = param.kind === "shape" ? "8, 8" : Array(param.length || 1).fill(3).join(", ");
  return el("input", {
    ...common, type: "text", class: "ints", autocomplete: "off", spellcheck: "false",
    placeholder: param.nullable ? "None" : example,
    value: typeof value === "string" ? value : formatInts(value),
    on: { input: (e) => set(parseInts(e.target.value, param)) },
  });
}

/** Give the input element for a parameter of kind int, float, bool, choice, str, ints or shape. */
function inputFor(param, target, ctx, id) {
  const value = target[param.name];
  const set = (v) => {
    target[param.name] = v;
    ctx.onChange();
  };
  const common = { id, name: ctx.field, dataset: { input: ctx.field } };
  if (param.kind === "int" || param.kind === "float") return numberInput(param, value, common, set);
  if (param.kind === "choice") return choiceInput(param, value, common, set);
  if (param.kind === "ints" || param.kind === "shape") return intsInput(param, value, common, set);
  if (param.kind === "bool") {
    return el("input", { ...common, type: "checkbox", checked: Boolean(value), on: { change: (e) => set(e.target.checked) } });
  }
  if (param.kind === "weights") {   // a backbone's: "imagenet", an uploaded weights id, or empty for None
    return el("input", {
      ...common, type: "text", autocomplete: "off", spellcheck: "false", placeholder: "None (from scratch)",
      value: value ?? "", on: { input: (e) => {
        const text = e.target.value.trim();
        set(text === "" ? null : /^\d+$/.test(text) ? Number(text) : text);
      } },
    });
  }
  return el("input", {
    ...common, type: "text", autocomplete: "off", spellcheck: "false", value: value ?? "",
    on: { input: (e) => set(e.target.value) },
  });
}

/** Give the field for one parameter: label, input, help (as a tooltip) and a slot for its error. */
export function paramField(param, target, ctx) {
  if (param.kind === "layer") return nestedLayerField(param, target, ctx);
  const id = `f${++uid}`;
  const input = inputFor(param, target, ctx, id);
  const label = el("label", { for: id, title: param.help || null, text: labelOf(param.name) });
  const kindClass = param.kind === "bool" ? "field check" : "field";
  const node = el("div", { class: kindClass, dataset: { field: ctx.field, param: param.name } },
    param.kind === "bool" ? [input, label] : [label, input],
    el("p", { class: "field-error", role: "alert", hidden: true }));
  // A sweep may search it: its PATH is the field's name under the layer's (ctx.pathPrefix) or as it is.
  addSearch(node, input, param, (ctx.pathPrefix || "") + ctx.field, ctx.search, () => target[param.name]);
  return node;
}

/** Give the fields for every parameter of `params`, named `prefix + name`; checkboxes last, in one row. */
export function paramFields(params, target, ctx, prefix = "") {
  const field = (p) => paramField(p, target, { ...ctx, field: prefix + p.name });
  const flags = params.filter((p) => p.kind === "bool").map(field);
  const others = params.filter((p) => p.kind !== "bool").map(field);
  return flags.length ? [...others, el("div", { class: "flags" }, flags)] : others;
}

/** Give Bidirectional's wrapped layer as a small nested form: its type, then its own parameters. */
function nestedLayerField(param, target, ctx) {
  const id = `f${++uid}`;
  const box = el("fieldset", { class: "nested", dataset: { field: ctx.field } });
  const render = () => {
    const inner = target[param.name] || {};
    const entry = ctx.cat.layers.get(inner.type);
    const select = el("select", {
      id, value: inner.type ?? "", dataset: { input: `${ctx.field}.type` },
      on: {
        change: (e) => {
          target[param.name] = ctx.newLayer(e.target.value);
          render();
          ctx.onChange();
        },
      },
    }, param.choices.map((c) => el("option", { value: c, text: c })));
    const typeField = el("div", { class: "field", dataset: { field: `${ctx.field}.type` } },
      el("label", { for: id, title: param.help || null, text: "wrapped layer" }), select,
      el("p", { class: "field-error", role: "alert", hidden: true }));
    box.replaceChildren(
      el("legend", { text: labelOf(param.name) }),
      el("div", { class: "params" }, typeField,
        entry ? paramFields(entry.params, inner, ctx, `${ctx.field}.`) : []));
  };
  render();
  return box;
}
