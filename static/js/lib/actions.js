// Who did what, in words: the run page's "Who did what" list and the admin page's recent actions.

/** Give the epochs of a continue as " for 3 epochs" ("" when unknown). */
function epochsNote(detail) {
  const n = detail && detail.epochs;
  return Number.isInteger(n) ? ` for ${n} epoch${n === 1 ? "" : "s"}` : "";
}

/** Give what a user change did: "role viewer, disabled, new password". */
function userChanges(detail) {
  const parts = [];
  if ("role" in detail) parts.push(`role ${detail.role}`);
  if ("active" in detail) parts.push(detail.active ? "enabled" : "disabled");
  if ("password" in detail) parts.push("new password");
  return parts.join(", ");
}

/**
 * Give an action as a sentence without its subject: "stopped the run", "renamed it to “x”".
 *
 * Args:
 *   action: {action, detail} as the API gives it (run actions and the admin's recent actions).
 */
export function actionText({ action, detail }) {
  const d = detail || {};
  switch (action) {
    case "run.create": return "created the run";
    case "run.stop": return "stopped the run";
    case "run.continue": return `continued the run${epochsNote(d)}`
      + (d && d.unfreeze != null ? `, fine-tuning ${d.unfreeze === "all" ? "every" : `the top ${d.unfreeze}`} backbone `
        + `layers at learning rate ${d.learning_rate}` : "");
    case "run.rename": return `renamed it to “${d.name ?? ""}”`;
    case "run.share": return "made a share link";
    case "run.unshare": return "revoked a share link";
    case "run.delete": return `deleted run #${d.run_id ?? "?"} “${d.name ?? ""}”`;
    case "dataset.delete": return `deleted the dataset “${d.name ?? ""}” (${d.deleted_dataset ?? "?"})`;
    case "user.create": return `added the user ${d.user ?? "?"} (${d.role ?? "?"})`;
    case "user.update": return `changed the user ${d.user ?? "?"}: ${userChanges(d) || "nothing"}`;
    case "token.revoke": return `revoked API token ${d.token ?? "?"}`;
    case "setup": return `created the first admin, ${d.user ?? "?"}`;
    default: return String(action);
  }
}
