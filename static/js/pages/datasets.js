// The datasets page: the upload form posts with fetch, shows the server's message, and opens the new dataset
// (a folder archive's page shows its build's progress).

import {ApiError, postForm} from '../lib/api.js';

const form = document.getElementById('upload-form');
const status = document.getElementById('upload-status');
const maxMb = Number(form?.dataset.maxMb);   // no form for a viewer: uploads are for members and admins

/** Show a message under the form; `kind` is "busy", "ok" or "error" (text only, never HTML). */
function show(message, kind) {
  status.textContent = message;
  status.dataset.kind = kind;
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
    const {dataset} = await postForm(form.action, new FormData(form));
    show(`Uploaded “${dataset.name}”${dataset.state === 'building' ? ': it is being built' : ''}. Opening it…`, 'ok');
    window.location.assign(`/datasets/${encodeURIComponent(dataset.id)}`);
  } catch (err) {
    // The API's own sentence (what is wrong with the file); a network failure says so.
    show(err instanceof ApiError ? err.message : `The upload failed: ${err.message}`, 'error');
  } finally {
    button.disabled = false;
  }
});
