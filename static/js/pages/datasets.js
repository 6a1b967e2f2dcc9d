// The datasets page: the upload form posts with fetch, shows the server's message, and opens the new dataset
// (a folder archive's page shows its build's progress).

import {csrfToken} from '../lib/api.js';

const form = document.getElementById('upload-form');
const status = document.getElementById('upload-status');
const maxMb = Number(form?.dataset.maxMb);   // no form for a viewer: uploads are for members and admins

/** Show a message under the form; `kind` is "busy", "ok" or "error" (text only, never HTML). */
function show(message, kind) {
  status.textContent = message;
  status.dataset.kind = kind;
}

/** Give the error message of a failed answer: the API's {"error": {"message"}}, else the HTTP status. */
async function failure(response) {
  const body = await response.json().catch(() => null);
  return body?.error?.message ?? `The upload failed (HTTP ${response.status}).`;
}

form?.addEventListener('submit', async (event) => {
  event.preventDefault();
  const file = form.elements.file.files[0];
  if (file && file.size > maxMb * 1024 * 1024) {
    show(`The file is ${(file.size / 2 ** 20).toFixed(1)} MB; this server accepts at most ${maxMb} MB.`, 'error');
    return;
  }
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  show('Uploading and checking…', 'busy');
  try {
    const response = await fetch(form.action, {
      method: 'POST', body: new FormData(form), credentials: 'same-origin',
      headers: {Accept: 'application/json', 'X-CSRFToken': csrfToken()},
    });
    if (response.status !== 201 && response.status !== 202) {
      show(await failure(response), 'error');
      return;
    }
    const {dataset} = await response.json();
    show(`Uploaded “${dataset.name}”${response.status === 202 ? ': it is being built' : ''}. Opening it…`, 'ok');
    window.location.assign(`/datasets/${encodeURIComponent(dataset.id)}`);
  } catch (err) {
    show(`The upload failed: ${err.message}`, 'error');
  } finally {
    button.disabled = false;
  }
});
