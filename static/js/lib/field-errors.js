// Placing the contract's field errors ({layer, field, message}) next to the field they name.

import { el, replaceChildren } from "./dom.js";

/** Give the field names to try for `field`, most precise first: a.b.c, a.b, a. */
function candidates(field) {
  const parts = field.split(".");
  return parts.map((_, i) => parts.slice(0, parts.length - i).join("."));
}

/** Give the closest element marked data-field for `field` inside `scope` (skipping layer cards when asked). */
export function findField(scope, field, outsideCards) {
  for (const name of candidates(field)) {
    const nodes = [...scope.querySelectorAll(`[data-field="${CSS.escape(name)}"]`)];
    const node = nodes.find((n) => !outsideCards || !n.closest(".layer-card"));
    if (node) return node;
  }
  return null;
}

/** Add a message to the error slot directly under `holder` (made when the holder has none). */
function addMessage(holder, message, slotClass = "field-error") {
  let slot = holder.querySelector(`:scope > .${slotClass}`);
  if (!slot) {
    slot = el("p", { class: slotClass, role: "alert" });
    holder.append(slot);
  }
  slot.textContent = slot.textContent ? `${slot.textContent}\n${message}` : message;
  slot.hidden = false;
  holder.classList.add("has-error");
  const input = holder.querySelector(":scope > input, :scope > select, :scope > textarea");
  if (input) input.setAttribute("aria-invalid", "true");
}

/** Remove every error shown under `root` and empty the general box. */
export function clearErrors(root, general) {
  for (const slot of root.querySelectorAll(".field-error, .card-error")) {
    slot.textContent = "";
    slot.hidden = true;
  }
  for (const node of root.querySelectorAll(".has-error")) {
    if (!node.matches("tr")) node.classList.remove("has-error");
  }
  for (const node of root.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  replaceChildren(general);
  general.hidden = true;
}

/** Say where an error that found no field belongs, for the general box. */
function where(error) {
  if (error.layer !== null && error.layer !== undefined) return `Layer ${error.layer}${error.field ? ` (${error.field})` : ""}: `;
  return error.field ? `${error.field}: ` : "";
}

/**
 * Show each error next to its field: a layer's field under its input, a layer's other errors at the
 * top of its card, compile/fit/dataset fields under theirs, the rest in the general box.
 * Gives a Map from layer index to its messages, for marking the summary table.
 */
export function placeErrors(root, layerList, general, errors) {
  const byLayer = new Map();
  const loose = [];
  for (const error of errors) {
    const message = String(error.message ?? "Invalid value.");
    const hasLayer = error.layer !== null && error.layer !== undefined;
    const card = hasLayer ? layerList.querySelector(`.layer-card[data-layer-index="${Number(error.layer)}"]`) : null;
    if (hasLayer) byLayer.set(Number(error.layer), [...(byLayer.get(Number(error.layer)) || []), message]);
    if (card) {
      card.classList.add("has-error");
      const field = error.field ? findField(card, error.field, false) : null;
      if (field) addMessage(field, message);
      else addMessage(card, message, "card-error");
      continue;
    }
    const field = !hasLayer && error.field ? findField(root, error.field, true) : null;
    if (field) addMessage(field, message);
    else loose.push(where(error) + message);
  }
  replaceChildren(general, loose.length ? el("ul", {}, loose.map((m) => el("li", { text: m }))) : []);
  general.hidden = loose.length === 0;
  return byLayer;
}
