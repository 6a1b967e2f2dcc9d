// A run's gallery: the test images with what the model predicts for them, like a grid after
// model.predict(x_test), but browsable: filter the wrong ones, pick a confusion cell, page through
// the whole split, click an image for its top-5, and try an image of your own. A run in progress
// shows a fixed sample after each finished epoch, marking the images whose prediction changed.

import { getJSON, sharing } from "../lib/api.js";
import { byId, el, replaceChildren } from "../lib/dom.js";
import { drawConfusion, drawTopBars, markCell, percent } from "../lib/prediction-charts.js";
import { ACTIVE, setBadge } from "../lib/run-format.js";
import { watchRun } from "../lib/socket.js";
import { sparkline, textCard, wireTryText } from "../lib/sequence-views.js";
import { drawSprite, tileCanvas } from "../lib/sprite.js";
import { wireTryYourOwn } from "../lib/try-image.js";

const page = JSON.parse(byId("page-data").textContent);
const run = page.run;
const names = page.dataset.class_names || [];
const [height, width] = page.dataset.input_shape || [1, 1];
// Text, sequence and series runs show their samples' words or lines where image runs show thumbnails.
const kind = page.dataset.kind || "image";
const noun = { image: "image", series: "series" }[kind] || "text";
const LIMIT = 100;
const base = `/api/runs/${encodeURIComponent(run.id)}`;
// A share link (?share=TOKEN) opens this run's read-only calls: every request carries it on.
const share = new URLSearchParams(window.location.search).get("share");
const shared = sharing(share);

const state = {
  status: run.status, source: ACTIVE.has(run.status) ? "epoch" : "final",
  filter: "all", trueClass: null, pred: null, sort: "index", order: "asc", offset: 0, indexes: null, saliency: false,
};
// Which predictions exist: the page asks only for those (the rest come with run events).
const available = { final: Boolean(page.has_predictions), epoch: Boolean(page.has_epoch_sample) };
let request = 0;   // answers of older requests are dropped: only the latest query draws

/** Give a class as the page writes it: "3", or "3 · cat" when the class has a name. */
function className(k) {
  const name = names[k];
  return name === undefined || name === String(k) ? String(k) : `${k} · ${name}`;
}

/** Read the query state from the address bar, so a reload or a shared link shows the same images. */
function readUrl() {
  const q = new URLSearchParams(window.location.search);
  const cls = (v) => (v !== null && /^\d+$/.test(v) && Number(v) < Math.max(names.length, 1) ? Number(v) : null);
  if (["all", "wrong", "right"].includes(q.get("filter"))) state.filter = q.get("filter");
  state.trueClass = cls(q.get("true"));
  state.pred = cls(q.get("pred"));
  if (q.get("sort") === "confidence") state.sort = "confidence";
  state.order = ["asc", "desc"].includes(q.get("order")) ? q.get("order") : state.sort === "confidence" ? "desc" : "asc";
  state.offset = /^\d+$/.test(q.get("offset") || "") ? Number(q.get("offset")) : 0;
  if (["final", "epoch"].includes(q.get("source"))) state.source = q.get("source");
  // An imported script's predict step: only these test images (?indexes=10,11,...).
  state.indexes = /^\d+(,\d+)*$/.test(q.get("indexes") || "") ? q.get("indexes") : null;
}

/** Give the API query of the current state. */
function query() {
  const q = new URLSearchParams({ offset: String(state.offset), limit: String(LIMIT), filter: state.filter, sort: state.sort });
  if (state.trueClass !== null) q.set("true", String(state.trueClass));
  if (state.pred !== null) q.set("pred", String(state.pred));
  if (state.sort === "confidence") q.set("order", state.order);
  if (state.indexes) q.set("indexes", state.indexes);
  return q;
}

/** Put the state in the address bar (without a new history entry per click). */
function writeUrl() {
  const q = query();
  q.delete("limit");
  q.set("source", state.source);
  if (share) q.set("share", share);
  window.history.replaceState(null, "", `${window.location.pathname}?${q}`);
}

/** Make the controls show the state. */
function showControls() {
  for (const b of document.querySelectorAll("[data-filter]")) b.setAttribute("aria-pressed", String(b.dataset.filter === state.filter));
  for (const b of document.querySelectorAll("[data-source]")) b.setAttribute("aria-pressed", String(b.dataset.source === state.source));
  byId("filter-true").value = state.trueClass === null ? "" : String(state.trueClass);
  byId("filter-pred").value = state.pred === null ? "" : String(state.pred);
  byId("sort").value = state.sort === "confidence" ? `confidence-${state.order}` : "index";
  const only = byId("gallery-indexes");
  only.hidden = !state.indexes;
  byId("gallery-indexes-text").textContent = state.indexes
    ? `Only test images ${state.indexes.split(",").join(", ")}: the predict step of the imported script.` : "";
}

/** Give one gallery tile: the thumbnail, the predicted class and probability, the true class. */
function tile(item) {
  const wrong = item.predicted !== item.true;
  const label = `Test ${noun} ${item.index}: predicted ${className(item.predicted)} (${percent(item.confidence)}), true ${className(item.true)}` +
    (wrong ? ", wrong" : "") + (item.changed ? `, changed from ${className(item.previous)}` : "");
  return el("li", {
    class: "tile", dataset: { index: item.index, true: item.true, predicted: item.predicted, correct: String(!wrong), changed: String(Boolean(item.changed)) },
  }, el("button", { type: "button", class: "tile-button", "aria-label": label, title: label, on: { click: () => openDetail(item) } },
    el("span", { class: "tile-index mono", text: `#${item.index}` }),
    picture(item),
    el("span", { class: "tile-pred" }, el("strong", { text: className(item.predicted) }), " ", el("span", { class: "tile-conf", text: percent(item.confidence) })),
    el("span", { class: "tile-true", text: `${wrong ? "✗" : "✓"} true ${className(item.true)}` }),
    item.changed ? el("span", { class: "tile-changed", text: `was ${className(item.previous)}` }) : null));
}

/** Say whether the page's thumbnails come as one sprite: not Grad-CAM overlays, nor a page past the sprite's pixel limit. */
function bySprite() {
  const pixels = LIMIT * width * height;   // asked for at scale 1, enlarged here
  return kind === "image" && !state.saliency && Boolean(page.sprite) && pixels <= page.sprite.max_pixels;
}

/** Give a tile's picture: a canvas the page's sprite fills, the test image, or its Grad-CAM overlay. */
function picture(item) {
  if (item.text !== undefined) return textCard(item.text);
  if (item.series !== undefined) return sparkline(item.series, { label: `Test series ${item.index}` });
  const [w, h] = [width * page.thumb_scale, height * page.thumb_scale];
  if (bySprite()) return tileCanvas(w, h, "tile-thumb");
  const src = state.saliency ? shared(`${base}/inside/${item.index}/saliency.png`) : shared(`${item.image_url}?scale=${page.thumb_scale}`);
  return el("img", { src, width: w, height: h, alt: "", loading: "lazy", class: state.saliency ? "saliency-thumb" : null });
}

/**
 * Fill the canvases of `tiles` from the page's sprite: one request at scale 1, pinned to the predictions'
 * version (cached for good). Resolves true once drawn, false if the sprite could not be loaded, null
 * if the tiles have no canvas (Grad-CAM overlays, or a page past the sprite's pixel limit).
 */
async function drawThumbnails(tiles, path, answer) {
  const canvases = tiles.flatMap((tileItem) => [...tileItem.querySelectorAll("canvas.tile-thumb")]);
  if (!canvases.length) return null;
  const q = query();
  q.set("scale", "1");
  q.set("v", answer.version);
  try {
    await drawSprite(shared(`${path}/sprite.png?${q}`), canvases, page.sprite.columns, page.thumb_scale);
    return true;
  } catch {
    return false;
  }
}

/** Fetch and draw the page of images the state asks for. */
async function loadImages() {
  const mine = ++request;
  const grid = byId("gallery");
  grid.dataset.state = "loading";
  grid.dataset.thumbs = "loading";
  writeUrl();
  showControls();
  if (!available[state.source]) {
    showMissing(grid);
    return;
  }
  const path = state.source === "epoch" ? `${base}/predictions/epoch` : `${base}/predictions`;
  try {
    const answer = await getJSON(shared(`${path}?${query()}`));
    if (mine !== request) return;
    const tiles = answer.items.map(tile);
    // Drawn before they replace the tiles shown: a page that reloads (each epoch of a live run) never shows blank tiles.
    const drawn = await drawThumbnails(tiles, path, answer);
    if (mine !== request) return;
    byId("gallery-error").hidden = true;
    replaceChildren(grid, tiles);
    if (!answer.items.length) grid.append(el("li", { class: "gallery-empty muted", text: "No test images match these filters." }));
    for (const [key, value] of Object.entries(answer.counts)) document.querySelector(`[data-count="${key}"]`).textContent = String(value);
    showPager(answer.total);
    showAbout(answer);
    grid.dataset.state = "ready";
    grid.dataset.total = String(answer.total);
    if (drawn === null) {
      delete grid.dataset.thumbs;
    } else if (drawn) {
      grid.dataset.thumbs = "ready";
    } else {
      grid.dataset.thumbs = "error";
      const box = byId("gallery-error");
      box.textContent = "The thumbnails of this page could not be loaded; reload the page to try again.";
      box.hidden = false;
    }
  } catch (err) {
    if (mine !== request) return;
    replaceChildren(grid);
    showPager(0);
    const box = byId("gallery-error");
    box.textContent = err.message;
    box.hidden = false;
    grid.dataset.state = "error";
    delete grid.dataset.thumbs;
  }
}

/** Say why there are no images to show yet (or at all), without asking the server. */
function showMissing(grid) {
  const active = ACTIVE.has(state.status);
  const text = state.source === "epoch"
    ? "The first sample of test images is predicted when epoch 1 ends."
    : active ? "The whole test split is predicted when the run completes or is stopped; meanwhile, see the latest epoch."
      : `This run has no test predictions: they are made when a run completes or is stopped (it ${state.status === "failed" ? "failed" : `is ${state.status}`}).`;
  replaceChildren(grid, el("li", { class: "gallery-empty muted", text }));
  showPager(0);
  byId("gallery-about").textContent = "";
  grid.dataset.state = "waiting";
  delete grid.dataset.thumbs;
}

/** Show "1–100 of 360" and enable the page buttons that lead somewhere. */
function showPager(total) {
  const first = total ? state.offset + 1 : 0;
  const last = Math.min(state.offset + LIMIT, total);
  byId("gallery-count").textContent = total ? `Showing ${first}–${last} of ${total}` : "";
  byId("page-info").textContent = total ? `page ${Math.floor(state.offset / LIMIT) + 1} of ${Math.ceil(total / LIMIT)}` : "";
  byId("page-prev").disabled = state.offset === 0;
  byId("page-next").disabled = last >= total;
}

/** Say what the images show: the final predictions of epoch N, or the sample after epoch N. */
function showAbout(answer) {
  const about = byId("gallery-about");
  if (state.source === "epoch") {
    const changed = answer.items.filter((i) => i.changed).length;
    about.textContent = `After epoch ${answer.epoch}: the same ${answer.counts.all} test images after every epoch` +
      ` (x_test spread evenly). ${changed} of those shown changed their prediction since the epoch before (outlined).`;
  } else {
    about.textContent = `What the saved model.keras (after epoch ${answer.epoch}) predicts for the test split, as ` +
      "np.argmax(model.predict(x_test), -1) gives it.";
  }
}

/** Change the query and draw from its first page. */
function setQuery(changes) {
  Object.assign(state, changes, { offset: 0 });
  const cell = state.trueClass !== null && state.pred !== null ? { trueClass: state.trueClass, predicted: state.pred } : null;
  markCell(byId("confusion-chart"), state.source === "final" ? cell : null);
  loadImages();
}

/** Open the dialog of one image: a larger view and its top-5 probabilities as bars. */
function openDetail(item) {
  const wrong = item.predicted !== item.true;
  const scale = Math.max(1, Math.min(32, page.thumb_scale * 3, Math.floor(2048 / Math.max(width, height))));
  byId("detail-title").textContent = `Test ${noun} #${item.index}`;
  const image = byId("detail-image");
  const sample = byId("detail-sample");
  image.hidden = !item.image_url;
  sample.hidden = Boolean(item.image_url);
  if (item.image_url) {
    image.src = shared(`${item.image_url}?scale=${scale}`);
    image.width = width * scale;
    image.height = height * scale;
    image.alt = `Test image ${item.index}`;
  } else {
    replaceChildren(sample, item.series ? sparkline(item.series, { width: 360, height: 120, label: `Test series ${item.index}` })
      : el("p", { class: "detail-text", text: item.text }));
  }
  const verdict = byId("detail-verdict");
  verdict.textContent = wrong ? "✗ Wrong" : "✓ Right";
  verdict.dataset.correct = String(!wrong);
  byId("detail-true").textContent = className(item.true);
  byId("detail-predicted").textContent = className(item.predicted);
  byId("detail-confidence").textContent = percent(item.confidence);
  const inTop = item.top.some((t) => t.class === item.true);
  byId("detail-note").textContent = (inTop ? "" : `The true class ${className(item.true)} is not among the top ${item.top.length}. `) +
    (item.changed ? `After the epoch before, it was predicted ${className(item.previous)}.` : "");
  byId("detail-inside").href = shared(`/runs/${encodeURIComponent(run.id)}/inside/${item.index}`);
  const dialog = byId("detail");
  dialog.dataset.index = String(item.index);
  dialog.showModal();
  drawTopBars(byId("detail-chart"), item.top, item.true);
}

/** Fetch and draw the confusion matrix and the per-class scores. */
async function loadConfusion() {
  const chart = byId("confusion-chart");
  const note = byId("confusion-note");
  if (!available.final) {
    chart.hidden = true;
    chart.dataset.state = "waiting";
    note.textContent = "The confusion matrix is made from the whole test split when the run completes or is stopped.";
    note.hidden = false;
    return;
  }
  try {
    const answer = await getJSON(shared(`${base}/confusion`));
    note.hidden = true;
    chart.hidden = false;
    drawConfusion(chart, answer.labels, answer.matrix, (trueClass, predicted) => {
      if (state.source !== "final") state.source = "final";
      setQuery({ filter: "all", trueClass, pred: predicted });
    });
    chart.dataset.state = "ready";
    byId("accuracy").textContent = `Accuracy ${percent(answer.accuracy ?? 0)}: ${answer.matrix.reduce((s, r, i) => s + r[i], 0)} of ${answer.total} test images right (epoch ${answer.epoch}).`;
    showScores(answer.classes);
    byId("scores").hidden = false;
    if (state.trueClass !== null && state.pred !== null && state.source === "final") markCell(chart, { trueClass: state.trueClass, predicted: state.pred });
  } catch (err) {
    chart.hidden = true;
    chart.dataset.state = "error";
    note.textContent = err.message;
    note.hidden = false;
  }
}

/** Fill the per-class table; a class's name shows its images. */
function showScores(classes) {
  const fixed = (v) => (v === null || v === undefined ? "—" : v.toFixed(3));
  replaceChildren(document.querySelector("#class-scores tbody"), classes.map((c) => el("tr", {},
    el("td", {}, el("button", { type: "button", class: "link-button", text: className(c.class), title: `Show the test images of class ${className(c.class)}`,
      on: { click: () => setQuery({ filter: "all", trueClass: c.class, pred: null }) } })),
    el("td", { class: "num", text: String(c.support) }), el("td", { class: "num", text: fixed(c.precision) }),
    el("td", { class: "num", text: fixed(c.recall) }), el("td", { class: "num", text: fixed(c.f1) }))));
}

/** Fill the class selects: any class, then every class of the dataset. */
function fillSelects() {
  for (const id of ["filter-true", "filter-pred"]) {
    replaceChildren(byId(id), el("option", { value: "", text: "any" }), names.map((_, k) => el("option", { value: String(k), text: className(k) })));
  }
}

/** Wire the filter buttons, selects, sort, pager and the source switch. */
function wireControls() {
  for (const b of document.querySelectorAll("[data-filter]")) b.addEventListener("click", () => setQuery({ filter: b.dataset.filter }));
  for (const b of document.querySelectorAll("[data-source]")) b.addEventListener("click", () => setQuery({ source: b.dataset.source }));
  const cls = (v) => (v === "" ? null : Number(v));
  byId("filter-true").addEventListener("change", (e) => setQuery({ trueClass: cls(e.target.value) }));
  byId("filter-pred").addEventListener("change", (e) => setQuery({ pred: cls(e.target.value) }));
  byId("sort").addEventListener("change", (e) => {
    const [sort, order] = e.target.value.split("-");
    setQuery({ sort, order: order || "asc" });
  });
  byId("show-saliency").addEventListener("change", (e) => { state.saliency = e.target.checked; loadImages(); });
  byId("clear-filters").addEventListener("click", () => setQuery({ filter: "all", trueClass: null, pred: null }));
  byId("gallery-all").addEventListener("click", () => setQuery({ indexes: null }));
  byId("page-prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - LIMIT); loadImages(); });
  byId("page-next").addEventListener("click", () => { state.offset += LIMIT; loadImages(); });
  const dialog = byId("detail");
  byId("detail-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });   // the backdrop
}

/** Follow a run in progress: redraw the sample after each epoch; switch to the final predictions at the end. */
function follow() {
  const badge = byId("run-status");
  setBadge(badge, state.status);
  byId("source-group").hidden = !ACTIVE.has(state.status);
  if (!ACTIVE.has(state.status)) return;
  const onStatus = (status) => {
    const was = state.status;
    state.status = status;
    setBadge(badge, status);
    if (ACTIVE.has(was) && (status === "completed" || status === "stopped")) {
      available.final = true;   // the trainer stores the predictions before it reports the end
      loadConfusion();
      setQuery({ source: "final" });
    }
  };
  const watch = watchRun(run.id, {
    onHistory: (p) => onStatus(p.status),
    onStatus: (p) => onStatus(p.status),
    onEpoch: () => {
      available.epoch = true;   // the trainer saves the sample before it reports the epoch
      if (state.source === "epoch") loadImages();
    },
  }, share ? { auth: { share } } : {});
  window.addEventListener("pagehide", () => watch.close());
}

fillSelects();
readUrl();
if (!page.has_model || kind !== "image") byId("show-saliency").closest("label").hidden = true;
byId("gallery").dataset.kind = kind;
byId("run-link").href = shared(byId("run-link").getAttribute("href"));
wireControls();
// "Try your own" runs the model on a new image: more than a share link's read-only view grants.
if (share) document.querySelector(".try-card").remove();
else if (kind === "image") wireTryYourOwn(page, className);
else wireTryText(page, className);
follow();
loadImages();
loadConfusion();
