// The builder's run slot: Train (POST /api/runs of the spec), and the "Start sweep" form, shown once
// a field is searched, which posts the spec as the sweep's base with its space (POST /api/sweeps).
// Either opens the new page; a refusal shows each error beside the field it names (a `space.PATH`
// error beside that field's search inputs).

import { ApiError, postJSON } from "./api.js";
import { byId, el, replaceChildren } from "./dom.js";
import { clearErrors, placeErrors } from "./field-errors.js";
import { RANGE_TEST_SUFFIX } from "./spec.js";
import { fieldText, pathLabel } from "./sweep-space.js";

const LOWER_IS_BETTER = /loss|error/;

/** Give the keys the run will log, the validation ones first when fit validates: val_accuracy, val_loss, accuracy, loss. */
export function objectiveKeys(spec, cat) {
  const keyOf = (name) => (cat.metrics.find((m) => m.name === name) || { key: name }).key;
  const keys = [...(spec.compile.metrics || []).map(keyOf), "loss"];
  const validates = spec.fit && spec.fit.validation !== "none" && spec.fit.validation !== null;
  return validates ? [...keys.map((k) => `val_${k}`), ...keys] : keys;
}

/** Give the direction that improves a key: minimize a loss or an error, maximize the rest. */
export function directionOf(key) {
  return LOWER_IS_BETTER.test(key) ? "minimize" : "maximize";
}

/** Give the whole number typed, or the text as typed (the server names the field and says why). */
function whole(input) {
  const text = input.value.trim();
  return /^\d+$/.test(text) ? Number(text) : text;
}

// The sweep's own fields; every other error is the base spec's, named as a run's would be.
const SWEEP_FIELDS = /^(name|space|objective|trials|parallel|sampler|pruner)(\.|$)/;

/** Give the errors of a 422 split by where they go: the spec's fields, the searched fields, the form's. */
function splitErrors(errors) {
  const out = { spec: [], space: [], form: [] };
  for (const error of errors) {
    const field = String(error.field || "");
    const hasLayer = error.layer !== null && error.layer !== undefined;
    const layerPath = /^space\.model\.layers\.(\d+)\./.exec(field);
    if (field.startsWith("space.")) {
      // A layer's search inputs are on its card: the error goes there even when it names no layer.
      out.space.push(layerPath && !hasLayer ? { ...error, layer: Number(layerPath[1]) } : error);
    } else if (hasLayer || (field && !SWEEP_FIELDS.test(field))) {
      out.spec.push(error);
    } else {
      out.form.push(error);
    }
  }
  return out;
}

/** Start a run of the spec (Train), or a learning-rate range test of it, and open its page; a refused spec shows its errors. */
function wireTrain(ctx) {
  const buttons = [byId("train-button"), byId("find-lr-button")];
  const status = byId("train-status");
  if (ctx.me && ctx.me.role === "viewer") {
    // The server would refuse it (403): say so instead of offering a button that cannot work.
    for (const button of buttons) button.disabled = true;
    status.textContent = "Viewers build and check models; members and admins start runs.";
    return;
  }
  const start = async (body) => {
    for (const button of buttons) button.disabled = true;
    status.textContent = "starting…";
    try {
      const result = await postJSON("/api/runs", body);
      window.location.assign(`/runs/${result.run.id}`);
    } catch (error) {
      for (const button of buttons) button.disabled = false;
      if (error instanceof ApiError && error.status === 422 && error.body && Array.isArray(error.body.errors)) {
        status.textContent = "fix the problems shown first";
        ctx.showProblems(error.body.errors);
      } else {
        status.textContent = `Could not start the run: ${error.message}`;
      }
    }
  };
  buttons[0].addEventListener("click", () => start(ctx.getSpec()));
  buttons[1].addEventListener("click", () => {
    const spec = ctx.getSpec();
    // The test's defaults (GET /api/layers "find_lr"): its page suggests a rate, and "Use this rate" comes back here.
    start({ ...spec, name: `${(spec.name || "model").slice(0, 100 - RANGE_TEST_SUFFIX.length)}${RANGE_TEST_SUFFIX}`,
      fit: { ...spec.fit, find_lr: {} } });
  });
}

/**
 * Wire Train, and the sweep button and form, of the builder.
 *
 * Args:
 *   ctx: {cat, me, getSpec(), getSpace(), root, layerList, general, showProblems(errors)}: the catalog,
 *     who is looking, the builder's spec and space now, the builder's element, layer list and general
 *     error box, and how the builder shows a spec's errors (the summary marked too).
 * Gives {refresh()}: call it after the space or the spec changed.
 */
export function setupRunSlot(ctx) {
  wireTrain(ctx);
  const button = byId("sweep-button");
  const form = byId("sweep-form");
  const status = byId("sweep-status");
  const general = byId("sweep-errors");
  const metric = byId("sweep-metric");
  const direction = byId("sweep-direction");
  const viewer = ctx.me && ctx.me.role === "viewer";
  const open = (yes) => {
    form.hidden = !yes;
    button.setAttribute("aria-expanded", String(yes));
  };

  /** Offer the objective keys of the spec now, keeping the chosen one when it is still logged. */
  const fillMetrics = () => {
    const keys = objectiveKeys(ctx.getSpec(), ctx.cat);
    const wanted = metric.dataset.wanted || metric.value;   // an import's objective, before the keys were offered
    const chosen = keys.includes(wanted) ? wanted : keys[0];
    replaceChildren(metric, keys.map((k) => el("option", { value: k, text: k })));
    if (metric.value !== chosen || !direction.dataset.touched) direction.value = directionOf(chosen);
    metric.value = chosen;
  };

  const refresh = () => {
    const space = ctx.getSpace();
    const paths = Object.keys(space);
    button.hidden = paths.length === 0;
    button.disabled = viewer;
    button.title = viewer ? "Viewers build and check models; members and admins start sweeps." : "";
    if (!paths.length) open(false);
    const layers = ctx.getSpec().model.layers;
    replaceChildren(byId("sweep-space"), paths.map((p) => el("li", { dataset: { path: p } },
      el("span", { class: "mono", title: p, text: pathLabel(p, layers) }), `: ${fieldText(space[p])}`)));
    if (!form.hidden) fillMetrics();
  };

  button.addEventListener("click", () => {
    const opening = form.hidden;
    if (opening) {
      const name = byId("sweep-name");
      if (!name.value) name.value = `${ctx.getSpec().name || "model"} sweep`.trim();
      fillMetrics();
    }
    open(opening);
    if (opening) byId("sweep-name").focus();
  });
  byId("sweep-cancel").addEventListener("click", () => open(false));
  metric.addEventListener("change", () => {
    delete metric.dataset.wanted;   // the user's pick now, not an import's
    if (!direction.dataset.touched) direction.value = directionOf(metric.value);
  });
  direction.addEventListener("change", () => { direction.dataset.touched = "1"; });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = byId("sweep-start");
    submit.disabled = true;
    status.textContent = "starting…";
    clearErrors(ctx.root, ctx.general);
    clearErrors(form, general);
    try {
      const { sweep } = await postJSON("/api/sweeps", {
        name: byId("sweep-name").value, base: ctx.getSpec(), space: ctx.getSpace(),
        objective: { metric: metric.value, direction: direction.value },
        trials: whole(byId("sweep-trials")), parallel: whole(byId("sweep-parallel")),
        sampler: byId("sweep-sampler").value, pruner: byId("sweep-pruner").value,
      });
      window.location.assign(`/sweeps/${encodeURIComponent(sweep.id)}`);
    } catch (error) {
      submit.disabled = false;
      if (error instanceof ApiError && error.status === 422 && error.body && Array.isArray(error.body.errors)) {
        status.textContent = "fix the problems shown first";
        const errors = splitErrors(error.body.errors);
        // A spec's errors mark the summary as a failed check does; a search's stay at its inputs.
        if (errors.spec.length) ctx.showProblems([...errors.spec, ...errors.space]);
        else placeErrors(ctx.root, ctx.layerList, ctx.general, errors.space);
        placeErrors(form, form, general, errors.form);
      } else {
        status.textContent = `Could not start the sweep: ${error.message}`;
      }
    }
  });
  /** Fill the form with a Keras Tuner import's sweep: its objective, trials, sampler and pruner. */
  const prefill = (sweep) => {
    if (sweep.trials) byId("sweep-trials").value = String(sweep.trials);
    if (sweep.sampler) byId("sweep-sampler").value = sweep.sampler;
    if (sweep.pruner) byId("sweep-pruner").value = sweep.pruner;
    if (sweep.objective && sweep.objective.metric) {
      metric.dataset.wanted = sweep.objective.metric;
      fillMetrics();
      direction.value = sweep.objective.direction || directionOf(sweep.objective.metric);
      direction.dataset.touched = "1";
    }
  };

  refresh();
  return { refresh, prefill };
}
