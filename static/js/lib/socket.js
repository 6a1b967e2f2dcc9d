// Live events of one run over Socket.IO (namespace /runs), in order, none lost and none twice.
//
// Every event of a run carries a `seq` that rises by one. The page keeps the last seq it applied
// and drops anything at or below it. On every (re)connection it subscribes again; the server
// answers with `run_history`, the whole state so far, from which the page rebuilds. Events that
// arrive between the subscribe and that answer are held back and applied after it when newer.

import { io } from "../../vendor/socket.io-4.8.4.esm.min.js";

const LIVE_EVENTS = [["run_status", "onStatus"], ["run_batch", "onBatch"], ["run_epoch", "onEpoch"]];

/**
 * Watch one run; give a handle with close() and lastSeq.
 *
 * Args:
 *   runId: the run's id.
 *   handlers: onHistory(payload), onStatus(payload), onBatch(payload), onEpoch(payload), and
 *     onConnection(state, message) with state "connected", "disconnected" or "refused".
 *   options: {auth} sent on connect (e.g. {share: TOKEN}); {url} to reach another host.
 *
 * Example:
 *   const watch = watchRun(7, {onHistory: draw, onEpoch: addPoint});
 *   window.addEventListener("pagehide", () => watch.close());
 */
export function watchRun(runId, handlers = {}, options = {}) {
  const call = (name, ...args) => handlers[name] && handlers[name](...args);
  const socket = io(`${options.url || ""}/runs`, { auth: options.auth || {} });
  let lastSeq = -1;
  let synced = false;   // false from each (re)subscribe until its run_history arrives
  let held = [];
  // Ids compare as text: the page may hold 7 where the server sends "7", or the other way round.
  const mine = (payload) => payload && String(payload.run_id) === String(runId);

  socket.on("connect", () => {
    synced = false;
    held = [];
    socket.emit("subscribe", { run_id: runId }, (ack) => {
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

  socket.on("run_history", (payload) => {
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

  for (const [event, handler] of LIVE_EVENTS) {
    socket.on(event, (payload) => {
      if (!mine(payload)) return;
      if (synced) deliver(handler, payload);
      else held.push([handler, payload]);
    });
  }

  return {
    /** Leave the run's room and close the connection. */
    close() {
      if (socket.connected) socket.emit("unsubscribe", { run_id: runId });
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
