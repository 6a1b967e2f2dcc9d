// The run page's Exports card: choose a format and quantization, Build, and a table of the run's
// exports (size, agreement with Keras, accuracy, latency beside Keras's, a download), kept current
// by `run_export` events; and the copy-ready curl line of batch predict.

import { getJSON, postJSON } from "./api.js";
import { el, replaceChildren } from "./dom.js";

const FORMAT_NAMES = { tf_saved_model: "SavedModel", litert: "LiteRT", onnx: "ONNX" };

/** Give a byte count as text (KB, MB). */
function bytesText(n) {
  if (n === null || n === undefined) return "—";
  return n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(2)} MB` : `${(n / 1024).toFixed(1)} KB`;
}

const percent = (x) => (x === null || x === undefined ? "—" : `${(100 * x).toFixed(1)} %`);
const ms = (x) => (x === null || x === undefined ? "—" : `${x < 1 ? x.toFixed(3) : x.toFixed(2)} ms`);

/**
 * The Exports card of one run.
 *
 * Args:
 *   parts: {format, quantization, build, error, rows, empty, curl} elements of run.html's card.
 *   runUrl: "/api/runs/ID"; shared(url): the url with a share link's token (or as it is).
 *   canBuild: whether this viewer may build (the owner or an admin): others get the table only.
 *
 * Example:
 *   const exports = new ExportsCard(parts, runUrl, shared, canControl);
 *   exports.load();  watchRun(id, {onExport: (p) => exports.upsert(p.export)});
 */
export class ExportsCard {
  constructor(parts, runUrl, shared, canBuild) {
    this.parts = parts;
    this.runUrl = runUrl;
    this.shared = shared;
    this.exports = new Map();
    if (!canBuild) parts.form.remove();
    else this.wire();
    parts.curl.textContent = `curl -H "Authorization: Bearer $TOKEN" -F image=@one.png -F image=@two.png `
      + `${window.location.origin}${runUrl}/predict`;
  }

  /** Wire the form: quantization only for LiteRT; Build posts and adds the answer's row. */
  wire() {
    const { format, quantization, build, error } = this.parts;
    const sync = () => {
      const litert = format.value === "litert";
      quantization.disabled = !litert;
      if (!litert) quantization.value = "none";
    };
    format.addEventListener("change", sync);
    sync();
    this.parts.form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      build.disabled = true;
      try {
        const body = await postJSON(`${this.runUrl}/exports`, { format: format.value, quantization: quantization.value });
        this.upsert(body.export);
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
      } finally {
        build.disabled = false;
      }
    });
  }

  /** Fetch the run's exports and draw them (first load, and after every run_history). */
  async load() {
    try {
      const body = await getJSON(this.shared(`${this.runUrl}/exports`));
      this.exports = new Map(body.exports.map((e) => [e.id, e]));
      this.draw();
    } catch (err) {
      this.parts.error.textContent = err.message;
      this.parts.error.hidden = false;
    }
  }

  /** Put one export (a POST's answer or a run_export event's) in the table. */
  upsert(item) {
    // A new build of the same format and quantization replaced the old one on the server.
    for (const [id, old] of this.exports) {
      if (id !== item.id && old.format === item.format && old.quantization === item.quantization) this.exports.delete(id);
    }
    this.exports.set(item.id, item);
    this.draw();
  }

  /** Draw the table, one row per export, oldest first. */
  draw() {
    const items = [...this.exports.values()].sort((a, b) => a.id - b.id);
    this.parts.empty.hidden = items.length > 0;
    replaceChildren(this.parts.rows, items.map((e) => this.row(e)));
  }

  /** Give one export's row. */
  row(e) {
    const download = e.state === "ready"
      ? el("a", { href: this.shared(`${this.runUrl}/exports/${e.id}/download`), class: "export-download" }, "Download .zip")
      : e.state === "failed" ? el("span", { class: "export-error", text: e.error || "failed" })
        : el("span", { class: "muted", text: "building…" });
    return el("tr", { dataset: { exportId: String(e.id), state: e.state } },
      el("td", { text: FORMAT_NAMES[e.format] || e.format }),
      el("td", { text: e.quantization }),
      el("td", { class: "export-state", text: e.state }),
      el("td", { class: "num", text: bytesText(e.size_bytes) }),
      el("td", { class: "num export-agreement", text: percent(e.agreement) }),
      el("td", { class: "num", text: percent(e.accuracy) }),
      el("td", { class: "num", text: `${ms(e.latency_ms)} vs ${ms(e.keras_latency_ms)}` }),
      el("td", {}, download));
  }
}
