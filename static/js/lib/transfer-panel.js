// Import (pasted Python or Keras JSON -> spec) and export (spec -> Keras JSON or train.py) panels.

import { ApiError, postJSON } from "./api.js";
import { byId, el, replaceChildren } from "./dom.js";

/** Give a message line for a warning or an error: strings as they are, objects with their line and layer. */
function describe(item) {
  if (typeof item === "string") return item;
  if (!item || typeof item !== "object") return String(item);
  const where = [];
  if (item.line !== undefined && item.line !== null) where.push(`line ${item.line}`);
  if (item.layer !== undefined && item.layer !== null) where.push(`layer ${item.layer}`);
  if (item.field) where.push(item.field);
  return (where.length ? `${where.join(", ")}: ` : "") + String(item.message ?? JSON.stringify(item));
}

/** Show `items` in the list `node`, each as a <li> of the given class. */
function showMessages(node, items, className) {
  replaceChildren(node, items.map((item) => el("li", { class: className, text: describe(item) })));
}

/** Give the errors an ApiError carries (the 422's list, or its one message). */
function errorsOf(error) {
  if (error instanceof ApiError && error.body && Array.isArray(error.body.errors)) return error.body.errors;
  return [error.message || String(error)];
}

/**
 * Wire the import panel: `apply(result, reimport)` receives {model, compile, fit, warnings, notes,
 * keras_version, predict} on success; reimport(version) imports the same text read as that Keras.
 */
export function setupImport(apply) {
  const button = byId("import-button");
  const status = byId("import-status");
  const messages = byId("import-messages");
  let last = null;   // the format and source of the last import, for the version switch
  const run = async (body) => {
    button.disabled = true;
    status.textContent = "Importing…";
    try {
      const result = await postJSON("/api/models/import", body);
      const count = result.model && Array.isArray(result.model.layers) ? result.model.layers.length : 0;
      last = body;
      apply(result, (version) => run({ ...last, keras_version: version }));
      const notes = Array.isArray(result.notes) ? result.notes.length : 0;
      status.textContent = `Imported ${count} layer${count === 1 ? "" : "s"}` +
        (notes ? `; ${notes} note${notes === 1 ? "" : "s"} beside the layers say what changed.` : ".");
      replaceChildren(messages);
    } catch (error) {
      status.textContent = "Could not import:";
      showMessages(messages, errorsOf(error), "error");
    } finally {
      button.disabled = false;
    }
  };
  button.addEventListener("click", () => {
    const source = byId("import-source").value;
    if (!source.trim()) {
      status.textContent = "Paste some code first.";
      return;
    }
    run({ format: byId("import-format").value, source });
  });
}

const FILES = { python: ["train.py", "text/x-python"], keras_json: ["model.json", "application/json"] };

/** Wire the export panel: `getSpec()` gives the spec to send; the answer is shown and offered as a file. */
export function setupExport(getSpec) {
  const source = byId("export-source");
  const status = byId("export-status");
  const messages = byId("export-messages");
  const download = byId("export-download");
  const copyButton = byId("export-copy");
  let url = null;
  const show = (text, format) => {
    source.value = text;
    if (url) URL.revokeObjectURL(url);
    const [filename, type] = FILES[format];
    url = text ? URL.createObjectURL(new Blob([text], { type })) : null;
    download.hidden = !url;
    download.href = url || "#";
    download.download = filename;
    download.textContent = `Download ${filename}`;
    copyButton.disabled = !text;
  };
  for (const button of document.querySelectorAll("#export-panel button[data-format]")) {
    button.addEventListener("click", async () => {
      const format = button.dataset.format;
      status.textContent = "Exporting…";
      replaceChildren(messages);
      try {
        const result = await postJSON("/api/models/export", { format, ...getSpec() });
        show(result.source, format);
        status.textContent = `${FILES[format][0]} is ready.`;
      } catch (error) {
        show("", format);
        status.textContent = "Could not export:";
        showMessages(messages, errorsOf(error), "error");
      }
    });
  }
  copyButton.addEventListener("click", () => copyText(source, status));
}

/** Copy the textarea's text to the clipboard, with the old selection trick as a fallback. */
async function copyText(textarea, status) {
  try {
    await navigator.clipboard.writeText(textarea.value);
  } catch {
    textarea.select();
    document.execCommand("copy");
  }
  status.textContent = "Copied to the clipboard.";
}
