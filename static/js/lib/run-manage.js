// The run page's owner controls: rename inline, delete after a confirm, make and revoke a share
// link; and the "Who did what" list. Only the run's owner and admins get the controls.

import { actionText } from "./actions.js";
import { api, postJSON } from "./api.js";
import { byId, el, replaceChildren } from "./dom.js";
import { localTime } from "./run-format.js";

/** Tell whether the signed-in user `me` may stop, continue, rename, delete and share `run`. */
export function mayControl(me, run) {
  return Boolean(me) && (me.role === "admin" || (me.role === "member" && me.name === run.owner));
}

/** Fill the "Who did what" list from a run's actions, oldest first. */
export function showActions(list, actions) {
  const items = (actions || []).map((a) => el("li", { dataset: { action: a.action } },
    el("time", { text: localTime(a.at) }),
    el("span", { class: "what" }, el("span", { class: "who", text: a.user || "someone" }), " ", actionText(a))));
  replaceChildren(list, items.length ? items : el("li", { class: "muted", text: "Nothing recorded yet." }));
}

/** Show or hide an error line. */
function say(node, text) {
  node.textContent = text || "";
  node.hidden = !text;
}

/**
 * Wire a button that sends a whole count of at least 1 (Continue's epochs, Resume's trials); Enter in the field presses it.
 *
 * Args:
 *   button, input: the button and its number field.
 *   label, noun: "Continue", "epochs": named in the message a bad count gets.
 *   errorNode: where that message is shown.
 *   send(count): called with a good count.
 */
export function wireCount(button, input, label, noun, errorNode, send) {
  button.addEventListener("click", () => {
    const count = Number(input.value);
    if (!Number.isInteger(count) || count < 1) {
      say(errorNode, `${label}: ${noun} must be a whole number of at least 1.`);
      input.focus();
      return;
    }
    send(count);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !button.disabled) button.click();
  });
}

/**
 * Wire the Rename button: the name turns into a field; Save sends PATCH {"name"}.
 *
 * Args:
 *   runUrl: "/api/runs/ID".
 *   getName(): the run's current name.
 *   onRun(run): called with the run the server answers.
 *   errorNode: where a refusal is shown.
 */
export function wireRename(runUrl, getName, onRun, errorNode) {
  const title = byId("run-name");
  const form = byId("rename-form");
  const input = byId("rename-input");
  const open = (yes) => {
    form.hidden = !yes;
    title.hidden = yes;
    byId("rename-button").setAttribute("aria-expanded", String(yes));
  };
  byId("rename-button").addEventListener("click", () => {
    input.value = getName();
    open(true);
    input.focus();
    input.select();
  });
  byId("rename-cancel").addEventListener("click", () => open(false));
  input.addEventListener("keydown", (event) => { if (event.key === "Escape") open(false); });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say(errorNode, "");
    try {
      const answer = await api("PATCH", runUrl, { name: input.value });
      open(false);
      onRun(answer.run);
    } catch (err) {
      say(errorNode, `Rename: ${err.message}`);
      input.focus();
    }
  });
}

/** Wire Delete: a confirm box, then DELETE and on to the runs list. */
export function wireDelete(runUrl, getName, errorNode) {
  const box = byId("delete-confirm");
  byId("delete-button").addEventListener("click", () => {
    byId("delete-name").textContent = getName();
    box.hidden = false;
    byId("delete-cancel").focus();
  });
  byId("delete-cancel").addEventListener("click", () => { box.hidden = true; });
  byId("delete-confirm-button").addEventListener("click", async () => {
    say(errorNode, "");
    try {
      await api("DELETE", runUrl);
      window.location.assign("/runs");
    } catch (err) {
      box.hidden = true;
      say(errorNode, `Delete: ${err.message}`);
    }
  });
}

/** Copy text to the clipboard; give true when it worked (the API, else the selected field). */
async function copy(text, field) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    field.select();
    return document.execCommand("copy");
  }
}

const RUN_SHARE = {
  made: "Anyone with this link can watch this run live and see its gallery, read-only, without an account.",
  revoked: "Revoked: the link no longer opens this run, and whoever was watching through it is cut off.",
};

/**
 * Wire Share: make a read-only link (POST .../shares), show it with Copy, and revoke it (DELETE).
 *
 * Args:
 *   runUrl: "/api/runs/ID" (or "/api/sweeps/ID": a sweep's links work the same way).
 *   onChange(): called after a link is made or revoked (the page fetches the run's actions again).
 *   texts: {made, revoked}: what the link opens, said when it is made and when it is revoked.
 */
export function wireShare(runUrl, onChange, errorNode, texts = RUN_SHARE) {
  const box = byId("share-box");
  const url = byId("share-url");
  const state = byId("share-state");
  let token = null;
  const showLink = (live) => {
    box.hidden = false;
    box.dataset.state = live ? "live" : "revoked";
    for (const id of ["share-url", "share-copy", "share-revoke"]) byId(id).hidden = !live;
  };
  byId("share-button").addEventListener("click", async () => {
    say(errorNode, "");
    try {
      const { share } = await postJSON(`${runUrl}/shares`, {});
      token = share.token;
      url.value = share.url;
      showLink(true);
      state.textContent = texts.made;
      url.focus();
      url.select();
      onChange();
    } catch (err) {
      say(errorNode, `Share: ${err.message}`);
    }
  });
  byId("share-copy").addEventListener("click", async () => {
    state.textContent = (await copy(url.value, url)) ? "Copied to the clipboard." : "Select the link and copy it.";
  });
  byId("share-revoke").addEventListener("click", async () => {
    say(errorNode, "");
    try {
      await api("DELETE", `${runUrl}/shares/${encodeURIComponent(token)}`);
      showLink(false);
      state.textContent = texts.revoked;
      onChange();
    } catch (err) {
      say(errorNode, `Revoke: ${err.message}`);
    }
  });
}
