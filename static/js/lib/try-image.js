// "Try your own": send an image file, or a drawing, to POST /api/runs/ID/predict as multipart `image`,
// and show what the model saw and its top-5 as bars.

import { postForm } from "./api.js";
import { byId } from "./dom.js";
import { drawTopBars, percent } from "./prediction-charts.js";

/** Give the parsed answer of posting `blob` as the multipart field `image` (to predict, or to `inside`); throw ApiError otherwise. */
export function predictImage(runId, blob, filename, path = "predict") {
  const form = new FormData();
  form.append("image", blob, filename);
  return postForm(`/api/runs/${encodeURIComponent(runId)}/${path}`, form);
}

/**
 * A drawing canvas in the convention of MNIST-like data: white strokes on black.
 *
 * Args:
 *   canvas: the <canvas> element.
 *   brush: the stroke width in canvas pixels (thick for 8×8 digits, thinner for 28×28).
 *   onStroke(): called when a stroke ends (the page predicts then).
 */
export class DrawingPad {
  constructor(canvas, brush, onStroke) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.brush = brush;
    this.onStroke = onStroke;
    this.drawing = false;
    this.strokes = 0;
    this.clear();
    canvas.addEventListener("pointerdown", (e) => this.start(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    for (const type of ["pointerup", "pointercancel", "pointerleave"]) canvas.addEventListener(type, () => this.end());
  }

  /** Give a pointer event's position in canvas pixels (the element may be shown larger or smaller). */
  at(event) {
    const box = this.canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * (this.canvas.width / box.width),
      (event.clientY - box.top) * (this.canvas.height / box.height)];
  }

  /** Fill the canvas black: nothing drawn. */
  clear() {
    this.ctx.fillStyle = "#000";
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.strokes = 0;
    this.canvas.dataset.strokes = "0";
  }

  /** Begin a stroke with a dot where the pointer went down. */
  start(event) {
    event.preventDefault();
    this.canvas.setPointerCapture(event.pointerId);
    this.drawing = true;
    const [x, y] = this.at(event);
    Object.assign(this.ctx, { strokeStyle: "#fff", fillStyle: "#fff", lineWidth: this.brush, lineCap: "round", lineJoin: "round" });
    this.ctx.beginPath();
    this.ctx.arc(x, y, this.brush / 2, 0, 2 * Math.PI);
    this.ctx.fill();
    this.ctx.beginPath();
    this.ctx.moveTo(x, y);
  }

  /** Draw the stroke on to where the pointer is. */
  move(event) {
    if (!this.drawing) return;
    const [x, y] = this.at(event);
    this.ctx.lineTo(x, y);
    this.ctx.stroke();
  }

  /** End a stroke and tell the page. */
  end() {
    if (!this.drawing) return;
    this.drawing = false;
    this.strokes += 1;
    this.canvas.dataset.strokes = String(this.strokes);
    this.onStroke();
  }

  /** Give the drawing as a PNG Blob. */
  toBlob() {
    return new Promise((resolve) => this.canvas.toBlob(resolve, "image/png"));
  }
}

/** Show the answer of predict-one: what the model saw, its top class and the top-5 bars. */
function showTry(answer, className) {
  byId("try-error").hidden = true;
  byId("try-result").hidden = false;
  byId("try-seen").src = answer.input_image;
  const text = byId("try-answer");
  text.textContent = `Predicted ${className(answer.predicted)} (${percent(answer.confidence)})`;
  text.dataset.predicted = String(answer.predicted);
  drawTopBars(byId("try-chart"), answer.top);
}

/** Send an image (a file or the drawing) to predict-one and show the answer or the error. */
async function sendImage(runId, blob, filename, className, isLatest) {
  const error = byId("try-error");
  try {
    const answer = await predictImage(runId, blob, filename);
    if (isLatest()) showTry(answer, className);
  } catch (err) {
    if (!isLatest()) return;
    error.textContent = err.message;
    error.hidden = false;
    byId("try-result").hidden = true;
  }
}

/**
 * Set up "Try your own" on the gallery page: the file input always, the canvas for digit-like data.
 * page: the gallery's page data (run, dataset, look, max_upload_mb); className(k): a class as the page writes it.
 */
export function wireTryYourOwn(page, className) {
  const look = page.look;
  const names = page.dataset.class_names || [];
  const [height, width] = page.dataset.input_shape || [1, 1];
  const size = `${height}×${width}`;
  let sent = 0;   // only the answer to the latest image is shown (strokes can follow each other quickly)
  let last = null;   // the latest image sent, for "Inside the model"
  const tryImage = (blob, filename) => {
    last = { blob, filename };
    const mine = ++sent;
    sendImage(page.run.id, blob, filename, className, () => mine === sent);
  };
  byId("try-help").textContent = look && look.digit_like
    ? `Upload a picture of one ${names.length === 10 ? "digit" : "item"} or draw it. It is made light on dark, cropped to the ink, centred and shrunk to ${size} like the dataset's images.`
    : `Upload a picture. It is resized to ${size}${look && look.channels === 1 ? " in grayscale" : ""}, its aspect kept by padding.`;
  byId("try-inside").addEventListener("click", async () => {
    if (!last) return;
    try {
      const answer = await predictImage(page.run.id, last.blob, last.filename, "inside");
      window.location.assign(`/runs/${encodeURIComponent(page.run.id)}/inside/${encodeURIComponent(answer.image)}`);
    } catch (err) {
      byId("try-error").textContent = err.message;
      byId("try-error").hidden = false;
    }
  });
  const file = byId("try-file");
  file.addEventListener("change", () => {
    const chosen = file.files && file.files[0];
    if (!chosen) return;
    if (chosen.size > page.max_upload_mb * 2 ** 20) {
      byId("try-error").textContent = `image: the file is larger than ${page.max_upload_mb} MB; send a smaller image.`;
      byId("try-error").hidden = false;
      return;
    }
    tryImage(chosen, chosen.name);
  });
  if (!look || !look.digit_like) return;
  byId("draw-box").hidden = false;
  // A digit drawn about 180 px tall is shrunk to the dataset's digit height (fill × H); strokes
  // about 2.2 of those pixels wide, like the dataset's, need this many canvas pixels.
  const brush = Math.max(12, Math.min(40, Math.round((180 * 2.2) / (look.fill * Math.max(look.height, 1)))));
  const predictButton = byId("canvas-predict");
  const pad = new DrawingPad(byId("try-canvas"), brush, () => {
    predictButton.disabled = false;
    pad.toBlob().then((blob) => tryImage(blob, "drawing.png"));
  });
  byId("canvas-clear").addEventListener("click", () => { pad.clear(); predictButton.disabled = true; });
  predictButton.addEventListener("click", () => pad.toBlob().then((blob) => tryImage(blob, "drawing.png")));
}
