// A builder field switched to "search" for a sweep: the small toggle beside the field, and the
// inputs that take its place (low and high, log and step for a number; choices, comma-separated,
// for a choice). What is typed goes into the builder's space as {PATH: FIELD}; what cannot be read
// as a number is kept as typed, so the server's check names the field and says what it accepts.

import { el } from "./dom.js";
import { choicesText, newField, parseChoices, searchable } from "./sweep-space.js";

let uid = 0;

/** Give the number typed, or the raw text when it is not one (empty: undefined, the key is left out). */
function numberOf(text) {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : trimmed;
}

/** Give one labelled box of a number search: low, high or step. */
function numberBox(field, key, label, onEdit) {
  const id = `q${++uid}`;
  const input = el("input", {
    id, type: "text", inputmode: "decimal", autocomplete: "off", spellcheck: "false", class: "search-number",
    value: field[key] === undefined || field[key] === null ? "" : String(field[key]), dataset: { search: key },
    placeholder: key === "step" ? "none" : null,
    on: { input: (e) => onEdit(key, numberOf(e.target.value)) },
  });
  return el("span", { class: "search-part" }, el("label", { for: id, text: label }), input);
}

/** Give the inputs of a number search (int or float): low, high, log and step. */
function numberInputs(field, onEdit) {
  const id = `q${++uid}`;
  const log = el("input", {
    id, type: "checkbox", checked: Boolean(field.log), dataset: { search: "log" },
    on: { change: (e) => onEdit("log", e.target.checked || undefined) },
  });
  return [numberBox(field, "low", "low", onEdit), numberBox(field, "high", "high", onEdit),
    numberBox(field, "step", "step", onEdit),
    el("span", { class: "search-part check" }, log, el("label", { for: id, text: "log" }))];
}

/** Give the input of a choice search: the choices, comma-separated (numbers, true/false and [lists] read as such). */
function choiceInputs(field, param, onEdit) {
  const id = `q${++uid}`;
  const allowed = (param.choices || []).join(", ");
  return [el("span", { class: "search-part wide" },
    el("label", { for: id, text: "choices" }),
    el("input", {
      id, type: "text", autocomplete: "off", spellcheck: "false", dataset: { search: "choices" },
      value: choicesText(field.choices), placeholder: (param.choices || []).slice(0, 2).join(", ") || null,
      title: allowed ? `Any of: ${allowed}` : null,
      on: { input: (e) => onEdit("choices", parseChoices(e.target.value, param.kind)) },
    }))];
}

/** Give the box of a searched field: its inputs and a slot for the errors of `space.PATH`. */
function searchBox(path, param, field, search) {
  const edit = (key, value) => {
    const next = { ...search.get(path) };
    if (value === undefined) delete next[key];
    else next[key] = value;
    search.set(path, next);
  };
  return el("div", { class: "search-box", dataset: { field: `space.${path}` } },
    field.type === "categorical" ? choiceInputs(field, param, edit) : numberInputs(field, edit),
    el("p", { class: "field-error", role: "alert", hidden: true }));
}

/**
 * Add "search" to a builder field: a toggle that swaps the field's input for the search's inputs.
 * Nothing is added when the PATH or the parameter's kind cannot be searched, or without `search`.
 *
 * Args:
 *   node: the field's element (label, input, error slot).
 *   input: its input, hidden while the field is searched (its value stays the base spec's).
 *   param: the catalog's parameter ({name, kind, choices, min, max}).
 *   path: the field's PATH in the run spec, e.g. "model.layers.1.units".
 *   search: {get(path) -> FIELD or undefined, set(path, FIELD or null)}.
 *   current(): the field's value now (a new search starts around it).
 */
export function addSearch(node, input, param, path, search, current) {
  if (!search || !searchable(path, param.kind)) return;
  // Its name is "search"; the field's label describes it (so a label look-up finds the field's input only).
  const label = node.querySelector(":scope > label");
  if (label && !label.id) label.id = `${input.id || `q${++uid}`}-label`;
  const toggle = el("button", {
    type: "button", class: "search-toggle", "aria-describedby": label ? label.id : null,
    title: "Search this field in a sweep: a range or a list of choices instead of one value",
    dataset: { path }, text: "search",
  });
  let box = null;
  const show = () => {
    const field = search.get(path);
    toggle.setAttribute("aria-pressed", String(Boolean(field)));
    node.classList.toggle("searched", Boolean(field));
    input.hidden = Boolean(field);
    if (box) box.remove();
    box = field ? searchBox(path, param, field, search) : null;
    if (box) node.insertBefore(box, node.querySelector(":scope > .field-error"));
  };
  toggle.addEventListener("click", () => {
    search.set(path, search.get(path) ? null : newField(param, current()));
    show();
    const first = box && box.querySelector("input");
    (first || input).focus();
  });
  node.classList.add("searchable");
  node.append(toggle);
  show();
}
