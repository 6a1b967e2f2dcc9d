// The inside view of one image: what model.predict does with it, layer by layer. Feature maps as
// heat-map grids (strongest channel first, "show all" for the rest), vectors as bar strips, the last
// layer as class probabilities; Grad-CAM (or gradient × input) for any class; the first kernels; and
// during a run, the view follows each finished epoch ("watch it learn").

import { getJSON } from "../lib/api.js";
import { byId, el, grouped, replaceChildren, shapeText } from "../lib/dom.js";
import { classLabel, drawClassBars, drawLearning, drawValues } from "../lib/inside-charts.js";
import { ACTIVE, setBadge } from "../lib/run-format.js";
import { seriesWithAttribution, tokenStrip } from "../lib/sequence-views.js";
import { watchRun } from "../lib/socket.js";

const page = JSON.parse(byId("page-data").textContent);
const run = page.run;
const names = page.dataset.class_names || [];
const share = page.share || null;
const shared = (url) => (share ? `${url}${url.includes("?") ? "&" : "?"}share=${encodeURIComponent(share)}` : url);
const base = `/api/runs/${encodeURIComponent(run.id)}/inside/${encodeURIComponent(page.image)}`;
const root = byId("inside-page");
const state = { klass: null, layer: "", status: run.status, request: 0 };

/** Fetch the inside view for the chosen class and layer, and draw it. */
async function load() {
  const mine = ++state.request;
  const q = new URLSearchParams();
  if (state.klass !== null) q.set("class", String(state.klass));
  if (state.layer) q.set("layer", state.layer);
  root.dataset.state = "loading";
  try {
    const answer = await getJSON(shared(`${base}${q.toString() ? `?${q}` : ""}`));
    if (mine !== state.request) return;
    byId("inside-error").hidden = true;
    draw(answer);
    root.dataset.state = "ready";
  } catch (err) {
    if (mine !== state.request) return;
    const box = byId("inside-error");
    box.textContent = err.message;
    box.hidden = false;
    root.dataset.state = "error";
  }
}

/** Draw the whole answer: summary, saliency, learning strip, kernels and the layers. */
function draw(answer) {
  const input = byId("input-image");
  if (answer.image_url) {
    input.src = `${answer.image_url}${answer.image_url.includes("?") ? "&" : "?"}scale=${Math.max(1, Math.floor(128 / Math.max(...page.dataset.input_shape.slice(0, 2))))}`;
    input.hidden = false;
  } else if (answer.text !== undefined || answer.series !== undefined) {
    const sample = byId("input-sample");
    replaceChildren(sample, answer.series ? seriesWithAttribution(answer.series, null) : el("p", { class: "input-text", text: answer.text }));
    sample.hidden = false;
  }
  const verdict = byId("verdict");
  const right = answer.true === null ? null : answer.true === answer.predicted;
  verdict.textContent = `Predicted ${classLabel(names, answer.predicted)} (${(100 * answer.probabilities[answer.predicted]).toFixed(1)}%)` +
    (answer.true === null ? "" : `, true ${classLabel(names, answer.true)} ${right ? "✓" : "✗"}`);
  if (right !== null) verdict.dataset.correct = String(right);
  verdict.dataset.predicted = String(answer.predicted);
  byId("inside-about").textContent = `The saved model.keras after epoch ${answer.epoch}, as np.argmax(model.predict(x), -1) sees it.`;
  drawSaliency(answer);
  drawLearningCard(answer);
  if (answer.kernels) {
    byId("kernels-card").hidden = false;
    byId("kernels-image").src = `${answer.kernels.image_url}${answer.kernels.image_url.includes("?") ? "&" : "?"}v=${answer.epoch}`;
  }
  replaceChildren(byId("layers"), answer.layers.map((layer) => layerPanel(layer, answer)));
  for (const node of document.querySelectorAll("[data-values]")) drawValues(node, JSON.parse(node.dataset.values));
}

/** Draw the saliency overlay, its layer choice and the clickable class bars. */
function drawSaliency(answer) {
  if (!answer.saliency) {
    drawAttribution(answer);
    return;
  }
  const s = answer.saliency;
  const image = byId("saliency-image");
  image.src = s.image_url;
  image.dataset.class = String(s.class);
  image.dataset.method = s.method;
  image.dataset.layer = s.layer || "";
  const select = byId("saliency-layer");
  replaceChildren(select, s.layers.length ? s.layers.map((name) => el("option", {
    value: name, text: name === s.default_layer ? `${name} (last convolution)` : name,
  })) : el("option", { value: "", text: "none: gradient × input" }));
  select.value = s.layer || "";
  select.disabled = !s.layers.length;
  const classes = byId("saliency-class");
  replaceChildren(classes, answer.probabilities.map((_, k) => el("option", {
    value: String(k), text: `${classLabel(names, k)}${k === answer.predicted ? " (predicted)" : ""}`,
  })));
  classes.value = String(s.class);
  const what = s.method === "grad-cam" ? "Grad-CAM" : "Gradient × input";
  byId("saliency-note").textContent = `${what} for class ${classLabel(names, s.class)}. ${s.note}` +
    (s.uniform ? " The map is flat: nothing in these feature maps raises this class's score." : "");
  drawClassBars(byId("class-chart"), {
    probabilities: answer.probabilities, names, predicted: answer.predicted, chosen: s.class, trueClass: answer.true,
  }, (k) => { state.klass = k; load(); });
}

/** Draw a text's words coloured by their attribution to the chosen class (or a series' attribution over time), and the class bars. */
function drawAttribution(answer) {
  byId("saliency-image").hidden = true;
  byId("saliency-layer-field").hidden = true;
  const view = byId("token-view");
  view.hidden = false;
  view.dataset.class = String(answer.class);
  if (answer.tokens) replaceChildren(view, tokenStrip(answer.tokens));
  else if (answer.attribution) replaceChildren(view, seriesWithAttribution(answer.series, answer.attribution));
  else replaceChildren(view);
  const classes = byId("saliency-class");
  replaceChildren(classes, answer.probabilities.map((_, k) => el("option", {
    value: String(k), text: `${classLabel(names, k)}${k === answer.predicted ? " (predicted)" : ""}`,
  })));
  classes.value = String(answer.class);
  const how = answer.tokens ? `Each word's ${answer.token_method || "attribution"}: green raises the score of class ` +
    `${classLabel(names, answer.class)}, red lowers it.` : answer.attribution
    ? `Gradient × input over time for class ${classLabel(names, answer.class)}: the lower line, under the series.` : "";
  byId("saliency-note").textContent = [how, answer.note || ""].filter(Boolean).join(" ");
  drawClassBars(byId("class-chart"), {
    probabilities: answer.probabilities, names, predicted: answer.predicted, chosen: answer.class, trueClass: answer.true,
  }, (k) => { state.klass = k; load(); });
}

/** Show the "watch it learn" strip when the image is in the epoch sample. */
function drawLearningCard(answer) {
  const card = byId("learn-card");
  card.hidden = !answer.learning;
  if (answer.learning) drawLearning(byId("learn-chart"), answer.learning, names, answer.true);
}

/** Give one layer's panel: its summary row and its output drawn by kind. */
function layerPanel(layer) {
  const head = el("div", { class: "layer-head" },
    el("strong", { text: `${layer.index} · ${layer.name}` }), " ",
    el("span", { class: "muted", text: `(${layer.type})` }), " ",
    el("span", { class: "mono", text: shapeText(layer.output_shape) }), " ",
    el("span", { class: "muted", text: `${grouped(layer.params)} params` }));
  const body = [];
  if (layer.note) body.push(el("p", { class: "layer-note", text: layer.note }));
  if (layer.kind === "probabilities") {
    body.push(el("p", { class: "muted", text: "The class probabilities: see “Why this class” above (the bars)." }));
  } else if (layer.pages) {
    body.push(channelGrid(layer));
  } else if (layer.image_url) {
    body.push(el("p", { class: "help", text: "Rows: time steps; columns: units." }),
      el("img", { class: "sequence-map", src: layer.image_url, alt: `${layer.name}: time × units` }));
  } else if (layer.values) {
    body.push(el("div", { class: "value-strip", dataset: { values: JSON.stringify(layer.values) } }));
    if (layer.chunked) body.push(el("p", { class: "help", text: `${grouped(layer.chunked)} values: each bar is the largest |value| of an equal chunk.` }));
    if (layer.steps_image_url) {
      body.push(el("p", { class: "help", text: "Its output at every step, as the same layer with return_sequences=True gives it (rows: time steps; columns: units); the bars above are the last step." }),
        el("img", { class: "sequence-map", src: layer.steps_image_url, alt: `${layer.name}: its states over time` }));
    }
  }
  return el("li", { class: "inside-layer", dataset: { kind: layer.kind, name: layer.name } }, head, ...body);
}

/** Give a layer's channel heat-maps: the first page, and a button that shows every page. */
function channelGrid(layer) {
  const shown = Math.min(layer.per_page, layer.drawn);
  const box = el("div", { class: "channel-grid" });
  const note = el("p", { class: "help", text: `${shown} of ${layer.channels} channels, strongest first (channel ${layer.order.slice(0, 3).join(", ")}, …)` +
    (layer.shrunk ? "; large maps are averaged down." : ".") });
  const image = (url, p) => el("img", { src: url, alt: `${layer.name}: channels, page ${p + 1}`, class: "channel-page", dataset: { page: String(p) } });
  box.append(image(layer.pages[0], 0));
  if (layer.pages.length > 1) {
    const more = el("button", { type: "button", class: "button", text: `Show all ${layer.drawn} channels` });
    more.addEventListener("click", () => {
      layer.pages.slice(1).forEach((url, i) => box.append(image(url, i + 1)));
      note.textContent = `All ${layer.drawn} channels, strongest first.`;
      more.remove();
    });
    return el("div", {}, note, box, more);
  }
  return el("div", {}, note, box);
}

/** Follow a run in progress: after each finished epoch (its model is saved first) draw again. */
function follow() {
  const badge = byId("run-status");
  setBadge(badge, state.status);
  if (!ACTIVE.has(state.status) || !/^\d+$/.test(page.image)) return;
  const onStatus = (p) => { state.status = p.status; setBadge(badge, p.status); };
  const watch = watchRun(run.id, { onHistory: onStatus, onStatus, onEpoch: () => load() }, share ? { auth: { share } } : {});
  window.addEventListener("pagehide", () => watch.close());
}

byId("saliency-layer").addEventListener("change", (e) => { state.layer = e.target.value; load(); });
byId("saliency-class").addEventListener("change", (e) => { state.klass = Number(e.target.value); load(); });
for (const id of ["gallery-link", "run-link"]) byId(id).href = shared(byId(id).getAttribute("href"));
follow();
load();
