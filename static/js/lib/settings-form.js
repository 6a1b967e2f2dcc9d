// The compile form (optimizer and its parameters, loss, metrics) and the fit form (epochs,
// batch size, validation, shuffle, callbacks), generated from the catalog.

import { el, replaceChildren } from "./dom.js";
import { addSearch } from "./search-field.js";
import { newCallback, newOptimizer } from "./spec.js";
import { paramFields } from "./spec-form.js";

let uid = 0;
const errorSlot = () => el("p", { class: "field-error", role: "alert", hidden: true });

/** Give a labelled select bound to nothing: `onPick(value)` is called on change. */
function selectField(field, label, options, value, onPick, help) {
  const id = `s${++uid}`;
  return el("div", { class: "field wide", dataset: { field } },
    el("label", { for: id, text: label }),
    el("select", { id, value, dataset: { input: field }, on: { change: (e) => onPick(e.target.value) } },
      options.map(([v, text]) => el("option", { value: v, text }))),
    help ? el("p", { class: "help", text: help }) : null,
    errorSlot());
}

/** Draw the compile form into `box`; edits change `spec.compile` and call ctx.onChange(). */
export function renderCompile(box, spec, ctx) {
  const compile = spec.compile;
  const redraw = () => {
    renderCompile(box, spec, ctx);
    ctx.onChange();
  };
  const optimizer = ctx.cat.optimizers.get(compile.optimizer.type);
  const optimizerField = selectField("compile.optimizer", "optimizer",
    [...ctx.cat.optimizers.keys()].map((t) => [t, t]), compile.optimizer.type,
    (type) => {
      compile.optimizer = newOptimizer(type, ctx.cat);
      redraw();
    }, optimizer ? optimizer.doc : "");
  // A sweep may try other optimizer types (each keeps the arguments it takes).
  const types = { name: "optimizer", kind: "choice", choices: [...ctx.cat.optimizers.keys()] };
  addSearch(optimizerField, optimizerField.querySelector("select"), types, "compile.optimizer.type", ctx.search,
    () => compile.optimizer.type);
  const loss = ctx.cat.losses.find((l) => l.name === compile.loss);
  const lossField = selectField("compile.loss", "loss", ctx.cat.losses.map((l) => [l.name, l.name]), compile.loss,
    (name) => {
      compile.loss = name;
      redraw();
    }, loss ? loss.doc : "");
  replaceChildren(box,
    el("div", { class: "params" }, optimizerField,
      optimizer ? paramFields(optimizer.params, compile.optimizer, ctx, "compile.optimizer.") : []),
    el("div", { class: "params" }, lossField, metricsField(compile, ctx)));
}

/** Give the metrics as checkboxes, in the catalog's order. */
function metricsField(compile, ctx) {
  const boxes = ctx.cat.metrics.map((m) => {
    const id = `m${++uid}`;
    return el("span", { class: "check" },
      el("input", {
        id, type: "checkbox", checked: compile.metrics.includes(m.name), dataset: { metric: m.name },
        on: {
          change: (e) => {
            const chosen = new Set(compile.metrics.filter((x) => x !== m.name));
            if (e.target.checked) chosen.add(m.name);
            compile.metrics = ctx.cat.metrics.map((x) => x.name).filter((x) => chosen.has(x));
            ctx.onChange();
          },
        },
      }),
      el("label", { for: id, title: m.doc, text: m.name }));
  });
  return el("fieldset", { class: "field metrics", dataset: { field: "compile.metrics" } },
    el("legend", { text: "metrics" }), el("div", { class: "checks" }, boxes), errorSlot());
}

const CALLBACKS = {
  checkpoint: ["ModelCheckpoint", "Saves the best epoch (by monitor) as best.keras."],
  early_stopping: ["EarlyStopping", "Stops training when monitor stops improving."],
  reduce_lr_on_plateau: ["ReduceLROnPlateau", "Lowers the learning rate when monitor stops improving."],
};

/** Draw the fit form into `box`; edits change `spec.fit` and call ctx.onChange(). */
export function renderFit(box, spec, ctx) {
  const fit = spec.fit;
  const redraw = () => {
    renderFit(box, spec, ctx);
    ctx.onChange();
  };
  replaceChildren(box,
    el("div", { class: "params" }, paramFields(ctx.cat.fit, fit, ctx, "fit."), validationField(fit, ctx, redraw)),
    el("div", { class: "callbacks" },
      Object.keys(ctx.cat.callbacks).map((name) => callbackField(name, fit, ctx, redraw))));
}

/** Give the validation choice: the test split, none, or a fraction of the training data. */
function validationField(fit, ctx, redraw) {
  const mode = typeof fit.validation === "number" ? "fraction" : String(fit.validation);
  const field = selectField("fit.validation", "validation",
    [["test", "test split"], ["none", "none"], ["fraction", "fraction of train"]], mode,
    (value) => {
      fit.validation = value === "fraction" ? 0.1 : value;
      redraw();
    });
  if (mode === "fraction") {
    const id = `v${++uid}`;
    const input = el("input", {
      id, type: "number", min: "0", max: "1", step: "0.05", value: String(fit.validation),
      "aria-label": "validation fraction", dataset: { input: "fit.validation.fraction" },
      on: {
        input: (e) => {
          const n = Number(e.target.value);
          fit.validation = e.target.value.trim() === "" || !Number.isFinite(n) ? e.target.value : n;
          ctx.onChange();
        },
      },
    });
    field.insertBefore(input, field.querySelector(".field-error"));
  }
  return field;
}

/** Give one callback: a checkbox to turn it on, and its parameters while it is on. */
function callbackField(name, fit, ctx, redraw) {
  const id = `c${++uid}`;
  const settings = fit.callbacks[name];
  const toggle = el("input", {
    id, type: "checkbox", checked: Boolean(settings), dataset: { callback: name },
    on: {
      change: (e) => {
        fit.callbacks[name] = e.target.checked ? newCallback(name, ctx.cat) : null;
        redraw();
      },
    },
  });
  return el("fieldset", { class: `callback ${settings ? "on" : ""}`, dataset: { field: `fit.callbacks.${name}` } },
    el("legend", {}, el("span", { class: "check" }, toggle, el("label", { for: id, text: (CALLBACKS[name] || [name])[0] }))),
    settings ? null : el("p", { class: "help", text: (CALLBACKS[name] || [])[1] || "" }),
    settings ? el("div", { class: "params" }, paramFields(ctx.cat.callbacks[name], settings, ctx, `fit.callbacks.${name}.`)) : null,
    errorSlot());
}
