// Live events of one run or one sweep over Socket.IO (namespace /runs), in order, none lost and none twice.
//
// Every event carries a `seq` that rises by one. The page keeps the last seq it applied and drops
// anything at or below it. On every (re)connection it subscribes again; the server answers with a
// history (`run_history`, `sweep_history`): the whole state so far, from which the page rebuilds.
// Events that arrive between the subscribe and that answer are held back and applied after it when newer.

import { io } from "../../vendor/socket.io-4.8.4.esm.min.js";

// What each kind of thing is watched with: its id's key, the subscribe, the history and the live events.
const KINDS = {
  run: {
    key: "run_id", subscribe: "subscribe", unsubscribe: "unsubscribe", history: "run_history",
    live: [["run_status", "onStatus"], ["run_batch", "onBatch"], ["run_epoch", "onEpoch"], ["run_dynamics", "onDynamics"],
      ["run_export", "onExport"]],
  },
  sweep: {
    key: "sweep_id", subscribe: "subscribe_sweep", unsubscribe: "unsubscribe_sweep", history: "sweep_history",
    live: [["sweep_status", "onStatus"], ["sweep_trial", "onTrial"]],
  },
};

/**
 * Watch one run or sweep; give a handle with close(), skipTo(seq) and lastSeq.
 *
 * Args:
 *   kind: "run" or "sweep" (a key of KINDS).
 *   id: its id.
 *   handlers: onHistory(payload), a handler per live event (KINDS), and onConnection(state, message)
 *     with state "connected", "disconnected" or "refused".
 *   options: {auth} sent on connect (e.g. {share: TOKEN}); {url} to reach another host.
 */
function watch(kind, id, handlers, options) {
  const spec = KINDS[kind];
  const call = (name, ...args) => handlers[name] && handlers[name](...args);
  const socket = io(`${options.url || ""}/runs`, { auth: options.auth || {} });
  let lastSeq = -1;
  let synced = false;   // false from each (re)subscribe until its history arrives
  let held = [];
  // Ids compare as text: the page may hold 7 where the server sends "7", or the other way round.
  const mine = (payload) => payload && String(payload[spec.key]) === String(id);

  socket.on("connect", () => {
    synced = false;
    held = [];
    socket.emit(spec.subscribe, { [spec.key]: id }, (ack) => {
      if (ack && ack.ok === false) call("onConnection", "refused", ack.error || "");
    });
    call("onConnection", "connected", "");
  });
  socket.on("disconnect", (reason) => {
    // The server closing it (a share link revoked, say) is final: the client does not retry then.
    if (reason === "io server disconnect") call("onConnection", "refused", "the server closed the connection");
    else call("onConnection", "disconnected", String(reason));
  });
  socket.on("connect_error", (err) => {
    // `active` false means the server refused us (auth); the client will not retry by itself.
    call("onConnection", socket.active ? "disconnected" : "refused", err && err.message ? err.message : "");
  });

  socket.on(spec.history, (payload) => {
    if (!mine(payload)) return;
    // The history is the truth as of last_seq, whatever was applied before it.
    lastSeq = typeof payload.last_seq === "number" ? payload.last_seq : -1;
    synced = true;
    call("onHistory", payload);
    const waiting = held;
    held = [];
    for (const [handler, event] of waiting) deliver(handler, event);
  });

  /** Apply one live event when it is newer than everything applied so far. */
  function deliver(handler, payload) {
    if (typeof payload.seq === "number") {
      if (payload.seq <= lastSeq) return;
      lastSeq = payload.seq;
    }
    call(handler, payload);
  }

  for (const [event, handler] of spec.live) {
    socket.on(event, (payload) => {
      if (!mine(payload)) return;
      if (synced) deliver(handler, payload);
      else held.push([handler, payload]);
    });
  }

  return {
    /** Leave the room and close the connection. */
    close() {
      if (socket.connected) socket.emit(spec.unsubscribe, { [spec.key]: id });
      socket.disconnect();
    },
    /** Drop every event up to `seq`: the page has the state as of it from elsewhere (a REST answer). */
    skipTo(seq) {
      lastSeq = Math.max(lastSeq, seq);
    },
    /** Give the seq of the last event applied (-1 before any). */
    get lastSeq() {
      return lastSeq;
    },
    socket,
  };
}

/**
 * Watch one run: onHistory(run_history), onStatus, onBatch, onEpoch, onDynamics (run_dynamics), onExport
 * (run_export), onConnection.
 *
 * Example:
 *   const watch = watchRun(7, {onHistory: draw, onEpoch: addPoint});
 *   window.addEventListener("pagehide", () => watch.close());
 */
export function watchRun(runId, handlers = {}, options = {}) {
  return watch("run", runId, handlers, options);
}

/**
 * Watch one sweep: onHistory(sweep_history), onTrial(sweep_trial), onStatus(sweep_status), onConnection.
 *
 * Example:
 *   const watch = watchSweep(3, {onHistory: rebuild, onTrial: upsert, onStatus: badge});
 */
export function watchSweep(sweepId, handlers = {}, options = {}) {
  return watch("sweep", sweepId, handlers, options);
}
