// Building DOM nodes without innerHTML: every text goes in through textContent or text nodes.

const PROPERTIES = new Set(["value", "checked", "selected", "disabled", "hidden", "readOnly"]);

/**
 * Give a new element. props: "class", "text" (textContent), "dataset" (data-* object), "on" (events
 * object), the properties value/checked/selected/disabled/hidden/readOnly, and any other attribute.
 * Children are nodes or strings (added as text); null/false children are skipped.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  const later = [];
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "on") for (const [type, fn] of Object.entries(value)) node.addEventListener(type, fn);
    else if (PROPERTIES.has(key)) later.push([key, value]);   // a select's value needs its options first
    else if (value !== false) node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  for (const [key, value] of later) node[key] = value;
  return node;
}

/** Give the element with this id (throws when the template lacks it, so a typo fails loudly). */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from the page`);
  return node;
}

/** Remove every child of `node` and append `children`. */
export function replaceChildren(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

/** Give a function that calls `fn` once `ms` have passed without another call. */
export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

/** Give a number with thousands separators, as model.summary() prints it. */
export function grouped(n) {
  return Number(n).toLocaleString("en-US");
}

/** Give a shape as Keras prints it: (None, 6, 6, 32), and (None, 10) with no trailing comma. */
export function shapeText(shape) {
  return "(" + shape.map((d) => (d === null ? "None" : String(d))).join(", ") + ")";
}
