// The builder's drawing of the model: a layered graph laid out by dagre (vendored), drawn as SVG by
// this module, one node per layer (type, name, output shape, params) and one edge per input. A
// stack draws as a straight line. Nodes are focusable: Enter or a click opens the layer's card.

import dagre from "../../vendor/dagre-3.1.3.esm.min.js";
import { layerNames } from "./spec.js";
import { grouped, shapeText } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const NODE = { width: 230, height: 52 };
export const INPUT = "input";

/** Tell whether the layers name their inputs (a graph) rather than stack. */
export function isGraph(layers) {
  return layers.some((l) => l && Array.isArray(l.inputs));
}

/** Give {names, inputs}: each layer's name and the names it takes, as webapp/spec/graph.py wires them. */
export function wiring(layers) {
  const names = layerNames(layers);
  const graph = isGraph(layers);
  const inputs = layers.map((layer, i) => {
    if (graph && Array.isArray(layer.inputs)) return layer.inputs;
    return [i ? names[i - 1] : INPUT];
  });
  return { names, inputs };
}

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = text;   // text, never markup
  return node;
}

/** Give a stack laid out as a straight line, in the shape dagre gives a layout (no need to run it). */
function lineLayout(names) {
  const gap = 28;
  const boxes = new Map([[INPUT, { ...NODE, height: 32, x: 8 + NODE.width / 2, y: 8 + 16 }]]);
  let y = 8 + 32 + gap;
  for (const name of names) {
    boxes.set(name, { ...NODE, x: 8 + NODE.width / 2, y: y + NODE.height / 2 });
    y += NODE.height + gap;
  }
  const order = [INPUT, ...names];
  const edges = order.slice(1).map((w, i) => ({ v: order[i], w }));
  const points = ({ v, w }) => [{ x: boxes.get(v).x, y: boxes.get(v).y + boxes.get(v).height / 2 },
    { x: boxes.get(w).x, y: boxes.get(w).y - boxes.get(w).height / 2 }];
  return { node: (n) => boxes.get(n), edges: () => edges, edge: (e) => ({ points: points(e) }),
           graph: () => ({ width: NODE.width + 16, height: y - gap + 8 }) };
}

/** Give dagre's layout of a graph: nodes (x, y) and edges (points). */
function dagreLayout(names, inputs) {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "TB", nodesep: 24, ranksep: 28, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  g.setNode(INPUT, { ...NODE, height: 32 });
  names.forEach((name) => g.setNode(name, { ...NODE }));
  inputs.forEach((sources, i) => {
    for (const source of sources) if (g.hasNode(source) && source !== names[i]) g.setEdge(source, names[i]);
  });
  dagre.layout(g);
  return g;
}

// The last layout and its wiring: a check's answer (new shapes, same wiring) only relabels the nodes,
// so editing a parameter of a 100-layer graph never waits for a layout.
let last = { key: "", layout: null };

/** Give the layout for this wiring: the last one when the wiring is unchanged. */
function layout(layers, names, inputs) {
  const key = JSON.stringify([names, inputs]);
  if (key !== last.key) {
    last = { key, layout: isGraph(layers) ? dagreLayout(names, inputs) : lineLayout(names) };
  }
  return last.layout;
}

/** Give one node's group: a rectangle and up to three lines of text. */
function nodeGroup(box, lines, attrs) {
  const group = svg("g", { class: "graph-node", transform: `translate(${box.x - box.width / 2},${box.y - box.height / 2})`, ...attrs });
  group.append(svg("rect", { width: box.width, height: box.height, rx: 6 }));
  lines.forEach((line, k) => group.append(svg("text", { x: 8, y: 16 + k * 15, class: k ? "graph-sub" : "graph-type" }, line)));
  return group;
}

/**
 * Draw the model into `holder` (an <svg>): rows are the check's layers (or null before an answer),
 * onPick(index) is called when a node is chosen (click, Enter or Space).
 */
export function drawGraph(holder, layers, rows, onPick) {
  const { names, inputs } = wiring(layers);
  const g = layout(layers, names, inputs);
  const byName = new Map((rows || []).map((r) => [r.name, r]));   // a graph's rows come in topological order
  const parts = [];
  for (const edge of g.edges()) {
    const points = g.edge(edge).points.map((p) => `${p.x},${p.y}`).join(" ");
    parts.push(svg("polyline", { class: "graph-edge", points, "marker-end": "url(#graph-arrow)",
                                 "data-from": edge.v, "data-to": edge.w }));
  }
  parts.push(nodeGroup(g.node(INPUT), ["input"], { "data-name": INPUT, class: "graph-node graph-input" }));
  layers.forEach((layer, i) => {
    const row = byName.get(names[i]);
    const detail = row ? `${shapeText(row.output_shape)} · ${grouped(row.params)} params` : "…";
    const label = `Layer ${i} ${layer.type} ${names[i]}, takes ${inputs[i].join(" and ")}${row ? `, output ${detail}` : ""}`;
    const group = nodeGroup(g.node(names[i]), [`${i} ${layer.type}`, names[i], detail],
      { tabindex: 0, role: "button", "aria-label": label, "data-index": i, "data-name": names[i] });
    group.addEventListener("click", () => onPick(i));
    group.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        onPick(i);
      }
    });
    parts.push(group);
  });
  const size = g.graph();
  holder.setAttribute("viewBox", `0 0 ${Math.ceil(size.width)} ${Math.ceil(size.height)}`);
  holder.setAttribute("width", String(Math.ceil(size.width)));
  holder.setAttribute("height", String(Math.ceil(size.height)));
  const marker = svg("marker", { id: "graph-arrow", viewBox: "0 0 8 8", refX: 8, refY: 4, markerWidth: 8, markerHeight: 8, orient: "auto" });
  marker.append(svg("path", { d: "M0,0 L8,4 L0,8 z" }));
  const defs = svg("defs");
  defs.append(marker);
  holder.replaceChildren(defs, ...parts);
  holder.dataset.nodes = String(layers.length);
  holder.dataset.edges = String(g.edges().length);
}
