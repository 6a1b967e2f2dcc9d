// The admin page: the accounts (add, change role, disable or enable, reset a password), the API
// tokens (list, revoke) and the recent actions of everyone. Every change goes through the JSON
// API; its refusals show here.

import { actionText } from "../lib/actions.js";
import { api, getJSON, postJSON } from "../lib/api.js";
import { byId, el, replaceChildren } from "../lib/dom.js";
import { localTime } from "../lib/run-format.js";

const page = JSON.parse(byId("page-data").textContent);
const me = page.me || {};
const ROLES = ["admin", "member", "viewer"];
let users = [];
let resetting = null;   // the id of the user whose new-password form is open

/** Show a message in a status line (error or done); an empty text hides it. */
function say(node, text) {
  node.textContent = text || "";
  node.hidden = !text;
}

/** Say what went wrong (or right) with the users table. */
function tell(error, done = "") {
  say(byId("users-error"), error);
  say(byId("users-done"), done);
}

/** Change a user ({role}, {active} or {password}); give true when the server agreed. */
async function change(user, body, done) {
  try {
    await api("PATCH", `/api/users/${encodeURIComponent(user.id)}`, body);
    tell("", done);
    await loadUsers();
    loadActions();
    return true;
  } catch (err) {
    tell(`${user.name}: ${err.message}`);
    return false;
  }
}

/** Give the cell with a user's role, as a select (not for oneself: an admin keeps their own role). */
function roleCell(user) {
  const select = el("select", { class: "role-select", "aria-label": `Role of ${user.name}`, disabled: user.id === me.id },
    ROLES.map((r) => el("option", { value: r, text: r, selected: r === user.role })));
  select.addEventListener("change", async () => {
    if (!(await change(user, { role: select.value }, `${user.name} is now ${select.value}.`))) select.value = user.role;
  });
  return el("td", {}, select);
}

/** Give the cell saying whether a user may sign in, with the button that turns it over. */
function activeCell(user) {
  const button = el("button", {
    type: "button", class: `button ${user.active ? "danger" : ""} toggle-active`, disabled: user.id === me.id,
    title: user.id === me.id ? "You cannot disable yourself." : "",
    text: user.active ? "Disable" : "Enable",
  });
  button.addEventListener("click", () => change(user, { active: !user.active },
    `${user.name} ${user.active ? "can no longer sign in" : "can sign in again"}.`));
  return el("td", { class: "active-cell" },
    el("span", { class: user.active ? "state-on" : "state-off", text: user.active ? "active" : "disabled" }), button);
}

/** Give the row with the new-password form of a user. */
function resetRow(user) {
  const input = el("input", { type: "password", class: "reset-password", autocomplete: "new-password",
    "aria-label": `New password for ${user.name}`, placeholder: "8 characters or more", required: true });
  const error = el("p", { class: "card-error reset-error", role: "alert", hidden: true });
  const form = el("form", { class: "reset-form" },
    el("label", { text: `New password for ${user.name}` }), input,
    el("button", { type: "submit", class: "button primary", text: "Set password" }),
    el("button", { type: "button", class: "button", text: "Cancel", on: { click: () => { resetting = null; draw(); } } }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("PATCH", `/api/users/${encodeURIComponent(user.id)}`, { password: input.value });
      resetting = null;
      tell("", `The password of ${user.name} is changed.`);
      await loadUsers();
      loadActions();
    } catch (err) {
      say(error, err.message);   // next to the form it came from
      input.focus();
    }
  });
  queueMicrotask(() => input.focus());
  return el("tr", { class: "reset-row", dataset: { user: user.name } }, el("td", { colspan: 5 }, form, error));
}

/** Give a user's row (and, when it is open, the new-password form below it). */
function userRows(user) {
  const reset = el("button", { type: "button", class: "button reset-button", text: "Reset password",
    "aria-expanded": String(resetting === user.id) });
  reset.addEventListener("click", () => { resetting = resetting === user.id ? null : user.id; draw(); });
  const row = el("tr", { dataset: { user: user.name, userId: String(user.id), active: String(user.active), role: user.role } },
    el("td", { class: "user-name" }, el("strong", { text: user.name }), user.id === me.id ? el("span", { class: "muted", text: " (you)" }) : null),
    roleCell(user), activeCell(user), el("td", { class: "created", text: localTime(user.created_at) }), el("td", {}, reset));
  return resetting === user.id ? [row, resetRow(user)] : [row];
}

/** Draw the users table. */
function draw() {
  replaceChildren(byId("users-body"), users.map(userRows));
  byId("users-table").dataset.state = "ready";
}

/** Fetch the users and draw them. */
async function loadUsers() {
  try {
    users = (await getJSON("/api/users")).users || [];
    draw();
  } catch (err) {
    tell(`Could not load the users: ${err.message}`);
  }
}

/** Give an API token's row: id, user, label, dates, and the button that revokes it. */
function tokenRow(t) {
  const revoke = el("button", { type: "button", class: "button danger revoke-token", text: "Revoke",
    "aria-label": `Revoke token ${t.id} of ${t.user}` });
  revoke.addEventListener("click", async () => {
    try {
      await api("DELETE", `/api/tokens/${encodeURIComponent(t.id)}`);
      say(byId("tokens-error"), "");
      say(byId("tokens-done"), `Token ${t.id} of ${t.user} is revoked.`);
      await loadTokens();
      loadActions();
    } catch (err) {
      say(byId("tokens-error"), `Token ${t.id}: ${err.message}`);
    }
  });
  const when = (iso, none) => (iso ? localTime(iso) : none);
  return el("tr", { dataset: { tokenId: String(t.id), user: t.user } },
    el("td", { class: "mono", text: String(t.id) }), el("td", { text: t.user }), el("td", { text: t.label }),
    el("td", { class: "created", text: when(t.created_at, "—") }), el("td", { text: when(t.last_used_at, "never") }),
    el("td", { class: "expires", text: when(t.expires_at, "never") }), el("td", {}, revoke));
}

/** Fetch the API tokens and draw them, newest first. */
async function loadTokens() {
  try {
    const { tokens } = await getJSON("/api/tokens");
    replaceChildren(byId("tokens-body"), (tokens || []).map(tokenRow));
    byId("tokens-empty").hidden = (tokens || []).length > 0;
    byId("tokens-table").dataset.state = "ready";
  } catch (err) {
    say(byId("tokens-error"), `Could not load the API tokens: ${err.message}`);
  }
}

/** Give an action's row: when, who, what, and the run it was about. */
function actionRow(a) {
  const run = a.run_id ? el("a", { href: `/runs/${encodeURIComponent(a.run_id)}`, text: `#${a.run_id} ${a.run || ""}` }) : "";
  return el("tr", { dataset: { action: a.action } },
    el("td", { class: "created", text: localTime(a.at) }), el("td", { text: a.user || "—" }),
    el("td", { class: "action-text", text: actionText(a) }), el("td", { class: "run-name" }, run));
}

/** Fetch the recent actions and draw them, newest first. */
async function loadActions() {
  try {
    const { actions } = await getJSON("/api/actions");
    replaceChildren(byId("actions-body"), (actions || []).map(actionRow));
    byId("actions-empty").hidden = (actions || []).length > 0;
    say(byId("actions-error"), "");
  } catch (err) {
    say(byId("actions-error"), `Could not load the actions: ${err.message}`);
  }
}

byId("add-user-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { name: byId("new-name").value.trim(), role: byId("new-role").value, password: byId("new-password").value };
  const button = byId("add-user");
  button.disabled = true;
  try {
    const { user } = await postJSON("/api/users", body);
    say(byId("add-user-error"), "");
    say(byId("add-user-done"), `Added ${user.name} (${user.role}).`);
    event.target.reset();
    await loadUsers();
    loadActions();
  } catch (err) {
    say(byId("add-user-done"), "");
    say(byId("add-user-error"), err.message);
  } finally {
    button.disabled = false;
  }
});
byId("actions-refresh").addEventListener("click", loadActions);

loadUsers();
loadTokens();
loadActions();
