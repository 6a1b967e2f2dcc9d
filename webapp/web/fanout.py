"""Socket.IO fan-out to websocket viewers: written from the emitting thread, queued only for a viewer that is behind.

python-socketio already encodes a room's event once; engine.io then puts that one packet in every
viewer's queue, and each viewer's writer thread wakes to send it. With 500 viewers that is 500
thread wake-ups and GIL hand-offs per event, and the profile (bench/README.md) found the web
process spending its time there (Queue.get, Condition.wait/notify), not in sending. Here each
viewer's queue is an Outbox: while its writer thread is idle and the socket takes the bytes at
once, `put` writes the websocket frame straight to the socket (the frame is built once per packet
for every connection without compression). Otherwise the packet waits in the queue as before, and
there a newer run_batch of a run replaces an older one that is still waiting (`coalesce`), so a
viewer that falls behind still gets every other event, in order, and the latest batch.

With a Flusher (`install` gives each server one, FLUSH_S apart), `put` does not write at once:
it queues a run_batch and names the Outbox to the Flusher's thread, which at most every FLUSH_S
(a batch after a quiet spell: GATHER_S after it) writes each named viewer's waiting frames joined,
with one non-blocking send. A burst of k batches then costs a
viewer one syscall, not k, and the emitting thread only queues them. Any other packet (an epoch, a
status, run_history, a ping) goes out at once from the emitting thread, joined to the batches
waiting before it: a status is on the wire before the HTTP answer of the request that caused it.
Packets waiting for the Flusher are never coalesced; only those waiting for a writer thread that is
behind are.
"""

import functools
import queue
import socket
import threading
import time

from engineio import packet as eio_packet
from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI
from wsproto.events import TextMessage
from wsproto.frame_protocol import FrameProtocol

FLUSH_S = 0.1   # how often the Flusher writes; 0: write from the emitting thread at once (no Flusher)
GATHER_S = 0.005   # the least a round waits after its first batch, for the same event's other viewers
YIELD_EVERY = 50   # viewers the Flusher writes between giving up the GIL, so HTTP threads get served
_count_lock = threading.Lock()
_coalesced = [0]


def coalesced():
    """Give how many queued packets this process dropped because a newer one of the same kind replaced them."""
    return _coalesced[0]


class Raw(bytes):
    """Bytes already framed for the wire (the rest of a partial write), which the writer sends as they are."""


class RawPacket:
    """Stands in for an engine.io packet in the queue: its `encode` gives Raw bytes."""

    def __init__(self, data):
        self.data = Raw(data)

    def encode(self, b64=False):
        """Give the framed bytes (the writer thread calls this, then Outlet.send)."""
        return self.data


def shared_frame(pkt):
    """Give the websocket frame of an engine.io text packet, built once per packet (unmasked, uncompressed)."""
    frame = getattr(pkt, "_kd_frame", None)
    if frame is None:
        frame = pkt._kd_frame = bytes(FrameProtocol(client=False, extensions=[]).send_data(pkt.encode()))
    return frame


class Outbox(queue.Queue):
    """An engine.io client queue that writes straight to the client's websocket when nothing waits before.

    coalesce(packet) gives a key, or None: a queued packet whose key a newer packet has is dropped.
    """

    def __init__(self, maxsize=0, coalesce=None, flusher=None):
        super().__init__(maxsize)
        self.coalesce = coalesce or (lambda _pkt: None)
        self.flusher = flusher
        self.ws = None      # simple_websocket.Server once the websocket is up and may be written directly
        self.plain = False  # no permessage-deflate: every such connection gets the same frame
        self.busy = False   # the writer thread holds packets it has not finished sending
        self.wrote = 0.0    # when a packet last went out directly (time.monotonic)

    def attach(self, ws):
        """Write directly to `ws` from now on, if its socket is a plain one that can be written without blocking."""
        sock = getattr(ws, "sock", None)
        # MSG_DONTWAIT only stops a socket without a timeout from blocking (with one, Python waits
        # for it); TLS sockets take no flags.
        if type(sock) is not socket.socket or sock.gettimeout() not in (None, 0.0):
            return
        try:
            self.plain = not ws.ws.connection._proto.extensions
        except AttributeError:
            self.plain = False
        with self.mutex:
            self.ws = ws

    def put(self, item, block=True, timeout=None):
        """Queue a run_batch for the Flusher; write anything else now, with what waits before it; never blocks.

        Without a Flusher every packet is written now if nothing waits and the socket takes it whole.
        While the writer thread is behind, `item` waits for it, and there a newer run_batch replaces it.
        """
        with self.mutex:
            flushed = self.flusher is not None and self.ws is not None and not self.busy
            if flushed and isinstance(item, eio_packet.Packet):
                self.queue.append(item)   # the writer thread is not woken
                self.unfinished_tasks += 1
                if self.coalesce(item) is None:   # not a run_batch: out now, with the batches before it
                    self._flush()
                else:
                    self.flusher.add(self)
                return
            if self.ws is not None and not self.queue and not self.busy and isinstance(item, eio_packet.Packet):
                item = self._write(item)
                if item is None:
                    return
            self._put(item)
            self.unfinished_tasks += 1
            self.not_empty.notify()

    def get(self, block=True, timeout=None):
        """The writer thread asks for more: a blocking call means it has sent all it had.

        engine.io's writer closes the websocket when `timeout` passes without a packet (pings come
        every ping_interval); packets this queue wrote directly meanwhile count as packets.
        """
        if not block:
            return super().get(False)
        with self.mutex:
            self.busy = False
        while True:
            asked = time.monotonic()
            try:
                return super().get(True, timeout)
            except queue.Empty:
                if timeout is None or self.wrote < asked:
                    raise

    def _write(self, pkt):
        """Send a packet's frame without blocking; give None if all went, else what the writer must send."""
        text = pkt.encode()
        if not isinstance(text, str) or not self.ws.connected:
            return pkt
        # A frame is built (and a compressing connection's state advanced) once; from then on its
        # bytes must reach the wire, so whatever the socket did not take goes to the writer as Raw.
        frame = shared_frame(pkt) if self.plain else self.ws.ws.send(TextMessage(data=text))
        rest = send_some(self.ws.sock, frame)
        self.wrote = time.monotonic()
        return RawPacket(rest) if rest else None

    def flush(self):
        """Write every waiting packet's frame, joined, with one non-blocking send (the Flusher's thread calls this).

        Whatever the socket does not take goes first to the writer thread, as Raw; packets that
        cannot go this way (binary, a stop, a closed websocket) and those after them, too.
        """
        with self.mutex:
            self._flush()

    def _flush(self):
        if self.busy or self.ws is None or not self.queue:
            return
        frames = []
        for item in self.queue:
            text = item.encode() if isinstance(item, eio_packet.Packet) and self.ws.connected else None
            if not isinstance(text, str):
                break
            frames.append(shared_frame(item) if self.plain else self.ws.ws.send(TextMessage(data=text)))
        if frames:
            self._send_first(frames)
        if self.queue:
            self.not_empty.notify()

    def _send_first(self, frames):
        """Take the first len(frames) packets off the queue, send their frames joined; the rest goes to the writer first."""
        for _ in frames:
            self.queue.popleft()
        self._done(len(frames))
        rest = send_some(self.ws.sock, b"".join(frames))
        self.wrote = time.monotonic()
        if rest:
            self.queue.appendleft(RawPacket(rest))
            self.unfinished_tasks += 1

    def _done(self, count):
        """Count `count` packets as done that the writer thread will never get (queue.join waits for the rest)."""
        self.unfinished_tasks -= count
        if count and not self.unfinished_tasks:
            self.all_tasks_done.notify_all()

    def _put(self, item):
        key = None if item is None else self.coalesce(item)   # None: engine.io's "stop" to the writer
        if key is not None:
            stale = [p for p in self.queue if p is not None and self.coalesce(p) == key]
            for p in stale:
                self.queue.remove(p)
            self._done(len(stale))
            with _count_lock:
                _coalesced[0] += len(stale)
        self.queue.append(item)

    def _get(self):
        self.busy = True   # under the mutex, with the removal: no direct write may overtake this packet
        return self.queue.popleft()


def send_some(sock, data):
    """Send what a socket takes of `data` without blocking; give the rest (b"" when all went).

    On an error all is given back: the writer thread meets the same error and closes the connection.
    """
    try:
        sent = sock.send(data, socket.MSG_DONTWAIT)
    except BlockingIOError:
        sent = 0
    except OSError:
        return data
    return data[sent:]


class Flusher:
    """A thread that, FLUSH_S after an Outbox names itself, writes every named Outbox's waiting frames."""

    def __init__(self, interval):
        self.interval, self.named, self.lock, self.wake, self.thread = interval, set(), threading.Lock(), \
            threading.Event(), None

    def add(self, outbox):
        """Have `outbox` flushed on the next round (called under the Outbox's lock)."""
        with self.lock:
            self.named.add(outbox)
            if self.thread is None:
                self.thread = threading.Thread(target=self.run, name="kd-fanout-flusher", daemon=True)
                self.thread.start()
        if not self.wake.is_set():
            self.wake.set()

    def run(self):
        """Wait to be named, let a round's batches gather, then flush each named Outbox, yielding the GIL now and then.

        Rounds are `interval` apart at the most; a batch named when the last round is that long
        past waits only GATHER_S (the rest of its room's puts), not a whole interval: the first
        batch of a run, or of a quiet spell, is not held back (bench/runs.py, time to first batch).
        """
        last = -self.interval
        while True:
            self.wake.wait()
            time.sleep(max(GATHER_S, last + self.interval - time.monotonic()))
            last = time.monotonic()
            self.wake.clear()
            with self.lock:
                named, self.named = self.named, set()
            for i, outbox in enumerate(named):
                outbox.flush()
                if i % YIELD_EVERY == YIELD_EVERY - 1:
                    time.sleep(0)


class Outlet(SimpleWebSocketWSGI):
    """engine.io's threading websocket wrapper, which attaches the connection's Outbox once the websocket is up."""

    attached = False

    def wait(self):
        """Attach before each wait until it took (an upgrade from polling finishes after the first waits)."""
        if not self.attached:
            connection = getattr(self.app, "__self__", None)   # the engine.io Socket whose handler runs us
            if connection is not None and connection.upgraded and isinstance(connection.queue, Outbox):
                connection.queue.attach(self.ws)
                self.attached = True
        return super().wait()

    def send(self, message):
        """Send a message, or Raw bytes that an Outbox's partial write left, as they are."""
        if isinstance(message, Raw):
            self.ws.sock.sendall(message)   # an OSError ends the writer, as a closed websocket does
            return None
        return super().send(message)


def install(eio, coalesce):
    """Give an engine.io server (threading mode) Outbox queues and Outlet websockets; `coalesce` as in Outbox."""
    if eio.async_mode != "threading" or not isinstance(getattr(eio, "_async", None), dict):
        return   # another async mode or engine.io layout: its own writer threads, as shipped
    flusher = Flusher(FLUSH_S) if FLUSH_S else None
    eio._async = dict(eio._async, queue=functools.partial(Outbox, coalesce=coalesce, flusher=flusher),
                      websocket=Outlet)
