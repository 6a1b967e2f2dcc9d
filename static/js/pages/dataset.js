// One dataset's page: the build's progress bar, the split toggle, more samples per class, the
// pixel histogram, and the augmentation preview. Every text goes in as text, never as HTML.

import { io } from "../../vendor/socket.io-4.8.4.esm.min.js";
import { api as call, getJSON, postJSON } from "../lib/api.js";
import { el, replaceChildren } from "../lib/dom.js";

const page = JSON.parse(document.getElementById("page-data").textContent);
const ds = page.dataset;
const api = `/api/datasets/${encodeURIComponent(ds.id)}`;

/** Show the split's sample grid ("train" or "test") and mark its button pressed. */
function showSplit(split) {
  for (const b of document.querySelectorAll(".ds-split-toggle button")) {
    b.setAttribute("aria-pressed", String(b.dataset.split === split));
  }
  for (const g of document.querySelectorAll(".ds-grid")) g.hidden = g.dataset.split !== split;
}

/** Draw the build's progress: images done / total and the ETA the builder estimates. */
function showProgress(p) {
  if (!p) return;
  const bar = document.getElementById("build-progress");
  bar.max = p.total;
  bar.value = p.done;
  const eta = p.eta_s == null ? "" : `, about ${Math.ceil(p.eta_s)} s left`;
  document.getElementById("build-status").textContent = `${p.done} / ${p.total} images decoded${eta}`;
}

/** Watch a dataset being built on its Socket.IO room; reload once it is ready, say why when it failed. */
function watchBuild() {
  const socket = io("/runs");
  const ended = (state) => {
    if (state.state === "ready") window.location.reload();
    if (state.state === "failed") {
      socket.close();
      const status = document.getElementById("build-status");
      status.textContent = state.error || "The build failed.";
      status.className = "error-box";
    }
  };
  socket.on("connect", () => socket.emit("subscribe_dataset", { dataset_id: ds.id }, (ack) => {
    if (!ack || !ack.ok) return;
    document.getElementById("ds-building").setAttribute("aria-busy", "true");   // live from here on
    showProgress(ack.progress);
    ended(ack);
  }));
  socket.on("dataset_progress", showProgress);
  socket.on("dataset_state", ended);
}

/** Append the next page of a class's samples to its row (the button asks for them). */
async function more(button) {
  const row = button.parentElement;
  const shown = row.querySelectorAll("img").length;
  const { split, scale, name, total } = button.dataset;
  button.disabled = true;
  const page = await getJSON(`${api}/samples?split=${split}&class=${button.dataset.class}&offset=${shown}&limit=24`);
  for (const i of page.indexes) {
    button.before(el("img", { src: `${api}/images/${split}/${i}.png?scale=${scale}`, loading: "lazy",
      alt: `${split} image ${i} (${name})`, title: `${split} #${i}` }));
  }
  button.disabled = false;
  if (shown + page.indexes.length >= Number(total)) button.remove();
}

const SVG = "http://www.w3.org/2000/svg";
const CHANNEL_COLOURS = [["#555"], ["#d33", "#3a3", "#36c"]];

/** Draw the value histogram (one bar series per channel) as SVG; axis words as text nodes. */
async function drawHistogram() {
  const box = document.getElementById("ds-histogram");
  const { histogram } = await getJSON(`${api}/stats`);
  const counts = histogram.counts;
  const top = Math.max(1, ...counts.flat());
  const bins = counts[0].length;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${bins * 10} 110`);
  svg.setAttribute("preserveAspectRatio", "none");
  counts.forEach((series, c) => series.forEach((n, b) => {
    const rect = document.createElementNS(SVG, "rect");
    const h = (100 * n) / top;
    const w = 10 / counts.length;
    Object.entries({ x: b * 10 + c * w, y: 100 - h, width: w, height: h,
      fill: (CHANNEL_COLOURS[counts.length === 1 ? 0 : 1] || [])[c] || "#888" })
      .forEach(([k, v]) => rect.setAttribute(k, v));
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${histogram.edges[b]}–${histogram.edges[b + 1]}: ${n}`;
    rect.append(title);
    svg.append(rect);
  }));
  replaceChildren(box, svg, el("p", { class: "muted", text: `pixel value 0 … 255 (${counts.length === 1 ? "gray" : "red, green, blue"}), highest bar ${top}` }));
}

/** Give the augmentation layers the preview form describes (the builder's block by default). */
function augmentationLayers(form) {
  const on = (name) => form.querySelector(`input[name="${name}"]`).checked;
  const value = (name) => Number(form.querySelector(`input[name="${name}"]`).value);
  const layers = [];
  if (on("RandomFlip")) layers.push({ type: "RandomFlip", mode: "horizontal" });
  if (on("RandomRotation")) layers.push({ type: "RandomRotation", factor: value("rotation") });
  if (on("RandomZoom")) layers.push({ type: "RandomZoom", height_factor: value("zoom") });
  if (on("RandomTranslation")) {
    layers.push({ type: "RandomTranslation", height_factor: value("translation"), width_factor: value("translation") });
  }
  if (on("RandomContrast")) layers.push({ type: "RandomContrast", factor: value("contrast") });
  return layers;
}

/** Give how many samples to ask for: 8, or as many as the server's budget (KD_MAX_PREVIEW_PIXELS) holds of this image. */
function previewCount() {
  const values = (ds.input_shape || []).reduce((a, b) => a * b, 1);
  return Math.max(1, Math.min(8, Math.floor(page.preview_values / values)));
}

/** Ask the server for fresh augmented samples of one image and show them. */
async function preview() {
  const form = document.getElementById("ds-augment");
  const status = document.getElementById("augment-status");
  const button = document.getElementById("augment-button");
  button.disabled = true;
  status.textContent = "Running the layers…";
  try {
    const index = Number(form.querySelector('input[name="index"]').value) || 0;
    const out = await postJSON(`${api}/augment`, { layers: augmentationLayers(form), index, count: previewCount() });
    replaceChildren(document.getElementById("augment-grid"),
      ...out.images.map((src, i) => el("img", { src, alt: `augmented sample ${i + 1} of training image ${index}` })));
    status.textContent = "";
  } catch (err) {
    status.textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

for (const b of document.querySelectorAll(".ds-split-toggle button")) {
  b.addEventListener("click", () => showSplit(b.dataset.split));
}
for (const b of document.querySelectorAll("button.ds-more")) b.addEventListener("click", () => more(b));
if (ds.state === "building") watchBuild();
if (ds.available && (ds.kind || "image") === "image") {   // texts, sequences and series have no pixels
  drawHistogram().catch((err) => { document.getElementById("ds-histogram").textContent = err.message; });
  document.getElementById("augment-button").addEventListener("click", preview);
}

/** Wire the owner's "Delete dataset" button: confirm, DELETE, then the list; a refusal (409) says why. */
function wireDelete() {
  const button = document.getElementById("ds-delete");
  if (!button) return;
  const confirmBox = document.getElementById("ds-delete-confirm");
  const problem = document.getElementById("ds-delete-error");
  button.addEventListener("click", () => {
    confirmBox.hidden = false;
    problem.hidden = true;
  });
  document.getElementById("ds-delete-no").addEventListener("click", () => { confirmBox.hidden = true; });
  document.getElementById("ds-delete-yes").addEventListener("click", async () => {
    confirmBox.hidden = true;
    try {
      await call("DELETE", api);
      window.location.assign("/datasets");
    } catch (err) {
      problem.textContent = err.message;
      problem.hidden = false;
    }
  });
}

wireDelete();
