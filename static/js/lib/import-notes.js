// "What changed from your script": the import answer's notes beside the imported model, each a
// button that takes the user to the field it changed, and the one-click switch of the Keras
// version the script is read as (re-imports it with `keras_version`).

import { byId, el, replaceChildren } from "./dom.js";
import { findField } from "./field-errors.js";

/** Give the element a note points at: a layer card's field, a compile/fit field, or the version switch. */
function targetOf(note, root) {
  if (note.layer !== undefined && note.layer !== null) {
    const card = root.querySelector(`.layer-card[data-layer-index="${Number(note.layer)}"]`);
    if (!card) return null;
    return (note.field && note.field !== "type" && findField(card, note.field, false)) || card;
  }
  return note.field ? findField(root, note.field, true) : null;
}

/** Bring a note's field into view, focus its input and mark it for a moment. */
export function goToNote(note, root) {
  const target = targetOf(note, root);
  if (!target) return false;
  for (const old of root.querySelectorAll(".note-target")) old.classList.remove("note-target");
  target.classList.add("note-target");
  target.scrollIntoView({ block: "center" });
  const input = target.matches("input, select, textarea, button")
    ? target : target.querySelector("input, select, textarea, button");
  if (input) input.focus({ preventScroll: true });
  return true;
}

/** Give the text of one note: "line 33: was → now". */
function noteText(note) {
  const where = note.line ? `line ${note.line}: ` : "";
  const change = note.was && note.now ? `${note.was} → ${note.now}` : note.now || note.was || "";
  return `${where}${change}`;
}

/**
 * Show an import answer's notes and version switch in the #import-notes section.
 * reimport(version) imports the same source again read as that Keras version.
 */
export function showNotes(result, root, reimport) {
  const section = byId("import-notes");
  const notes = Array.isArray(result.notes) ? result.notes : [];
  section.hidden = notes.length === 0;
  const version = result.keras_version;
  const switcher = byId("keras-version");
  replaceChildren(switcher, version ? Object.entries(version.choices).map(([id, label]) => el("button", {
    type: "button", class: "button", "aria-pressed": String(id === version.used), dataset: { version: id },
    text: label + (id === version.detected ? " (detected)" : ""),
    on: { click: () => reimport(id) },
  })) : []);
  byId("keras-version-field").hidden = !version;
  const predict = byId("import-predict");
  predict.hidden = !result.predict;
  predict.textContent = result.predict
    ? `Predict step: after training, the gallery opens on test images ${result.predict.indexes.slice(0, 20).join(", ")}` +
      `${result.predict.indexes.length > 20 ? "…" : ""}.` : "";
  replaceChildren(byId("import-notes-list"), notes.map((note) => el("li", { class: "import-note" },
    el("button", {
      type: "button", class: "note-link", dataset: { noteField: note.field || "", noteLayer: note.layer ?? "" },
      text: noteText(note), on: { click: () => goToNote(note, root) },
    }),
    el("span", { class: "note-why", text: note.why }))));
}
