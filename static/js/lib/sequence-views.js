// Texts and series where the gallery, the inside view and "try your own" show images: a review's words
// (coloured by their attribution to a class), a series as a small line, and the box that sends a
// sentence or a pasted series to POST /api/runs/ID/predict. Every text goes in as textContent; a
// colour is a CSS value computed from a number, never markup.

import { postJSON } from "./api.js";
import { byId, el, replaceChildren } from "./dom.js";
import { drawTopBars, percent } from "./prediction-charts.js";

const SVG = "http://www.w3.org/2000/svg";

/** Give an SVG element with these attributes (numbers and fixed names only). */
function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

/** Give the "x,y x,y …" points of values drawn into width × height (null values are skipped). */
function points(values, width, height, lo, hi) {
  const span = hi > lo ? hi - lo : 1;
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  return values.map((v, i) => (v === null || !Number.isFinite(v) ? null
    : `${(i * step).toFixed(1)},${(height - 1 - ((v - lo) / span) * (height - 2)).toFixed(1)}`)).filter(Boolean).join(" ");
}

/** Give an inline SVG sparkline of a series (a list of numbers), `className` on the <svg>. */
export function sparkline(values, { width = 96, height = 40, className = "sparkline", label = "series" } = {}) {
  const finite = values.filter((v) => v !== null && Number.isFinite(v));
  const lo = finite.length ? Math.min(...finite) : 0;
  const hi = finite.length ? Math.max(...finite) : 1;
  const node = svg("svg", { class: className, width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  node.setAttribute("aria-label", label);
  node.append(svg("polyline", { points: points(values, width, height, lo, hi), fill: "none", stroke: "currentColor", "stroke-width": 1.2 }));
  return node;
}

/** Give a gallery card's review: its first words as plain text. */
export function textCard(text) {
  return el("span", { class: "tile-text", text });
}

/** Give the CSS background of an attribution a in [-top, top]: green for the class, red against it. */
export function attributionColour(a, top) {
  const share = top > 0 ? Math.max(-1, Math.min(1, a / top)) : 0;
  const alpha = Math.abs(share) * 0.75;
  return share >= 0 ? `rgba(30, 160, 70, ${alpha.toFixed(3)})` : `rgba(210, 40, 40, ${alpha.toFixed(3)})`;
}

/** Give the words of a text, each a <span> with its attribution as its background colour and title. */
export function tokenStrip(tokens) {
  const top = Math.max(0, ...tokens.map((t) => Math.abs(t.attribution)));
  return el("p", { class: "token-strip" }, tokens.map((t) => {
    const span = el("span", { class: "token", text: t.token, title: `${t.token}: ${t.attribution.toPrecision(3)}`,
      dataset: { attribution: String(t.attribution) } });
    span.style.backgroundColor = attributionColour(t.attribution, top);
    return [span, " "];
  }));
}

/** Give a series drawn with its attribution over time as a second line under it. */
export function seriesWithAttribution(series, attribution) {
  return el("div", { class: "series-view" },
    sparkline(series, { width: 480, height: 90, className: "series-line", label: "the series" }),
    attribution ? sparkline(attribution, { width: 480, height: 50, className: "attribution-line", label: "its attribution over time" }) : null);
}

/** Give a series pasted as text ("0.1, 0.5 0.2" or one per line) as numbers; throw naming the first bad value. */
export function parseSeries(text) {
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  return parts.map((part, i) => {
    const value = Number(part);
    if (!Number.isFinite(value)) throw new Error(`series: value ${i} is ${JSON.stringify(part.slice(0, 20))}; every value must be a number.`);
    return value;
  });
}

/**
 * Set up "Try your own" for a text, sequence or series run: a text area (or a paste box for a
 * series) whose content goes to predict-one as JSON; the answer shows its top classes and, for a
 * text, each word coloured by its attribution to the predicted class.
 * page: the gallery's page data; className(k): a class as the page writes it.
 */
export function wireTryText(page, className) {
  const series = page.dataset.kind === "series";
  byId("try-image-box").hidden = true;
  byId("try-text-box").hidden = false;
  const length = (page.dataset.input_shape || [])[0];
  byId("try-text-label").textContent = series ? "A series (numbers separated by commas or spaces)" : "A sentence or review";
  byId("try-help").textContent = series
    ? `Paste ${length ? `${length} numbers` : "a series"}: the model takes it as it is, like the dataset's series.`
    : page.dataset.kind === "text"
      ? "Type a text: the model's own TextVectorization turns it into tokens."
      : "Type a review: it is split into words and looked up in the dataset's word index, as keras.datasets.imdb does.";
  const input = byId("try-text");
  input.maxLength = page.max_text_chars || 20000;
  let sent = 0;
  byId("try-text-predict").addEventListener("click", async () => {
    const mine = ++sent;
    const error = byId("try-error");
    try {
      const body = series ? { series: parseSeries(input.value) } : { text: input.value };
      const answer = await postJSON(`/api/runs/${encodeURIComponent(page.run.id)}/predict`, body);
      if (mine !== sent) return;
      error.hidden = true;
      showAnswer(answer, className);
    } catch (err) {
      if (mine !== sent) return;
      error.textContent = err.message;
      error.hidden = false;
      byId("try-result").hidden = true;
    }
  });
}

/** Show predict-one's answer for a text or series: the predicted class, the top bars, the coloured words. */
function showAnswer(answer, className) {
  byId("try-result").hidden = false;
  byId("try-seen-figure").hidden = true;
  byId("try-inside").hidden = true;
  const text = byId("try-answer");
  text.textContent = `Predicted ${className(answer.predicted)} (${percent(answer.confidence)})`;
  text.dataset.predicted = String(answer.predicted);
  drawTopBars(byId("try-chart"), answer.top);
  const box = byId("try-tokens");
  if (answer.tokens) replaceChildren(box, el("p", { class: "help", text: "Each word's attribution to the predicted class: green for it, red against it." }), tokenStrip(answer.tokens));
  else if (answer.series) replaceChildren(box, seriesWithAttribution(answer.series, answer.attribution));
  else replaceChildren(box);
}
