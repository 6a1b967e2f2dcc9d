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

    def __init__(self, maxsize=0, coalesce=None):
        super().__init__(maxsize)
        self.coalesce = coalesce or (lambda _pkt: None)
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
            self.plain = not ws.ws.connection._proto.extensions   # noqa: SLF001 - wsproto keeps them there
        except AttributeError:
            self.plain = False
        with self.mutex:
            self.ws = ws

    def put(self, item, block=True, timeout=None):
        """Write `item` now if the writer is idle and the socket takes it whole; else queue it (never blocks)."""
        with self.mutex:
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
        try:
            sent = self.ws.sock.send(frame, socket.MSG_DONTWAIT)
        except BlockingIOError:
            sent = 0
        except OSError:
            return RawPacket(frame)   # the writer meets the same error and closes the connection
        self.wrote = time.monotonic()
        return None if sent == len(frame) else RawPacket(frame[sent:])

    def _put(self, item):
        key = None if item is None else self.coalesce(item)   # None: engine.io's "stop" to the writer
        if key is not None:
            stale = [p for p in self.queue if p is not None and self.coalesce(p) == key]
            for p in stale:
                self.queue.remove(p)
            self.unfinished_tasks -= len(stale)   # never to be task_done by the writer
            with _count_lock:
                _coalesced[0] += len(stale)
        self.queue.append(item)

    def _get(self):
        self.busy = True   # under the mutex, with the removal: no direct write may overtake this packet
        return self.queue.popleft()


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
    if eio.async_mode != "threading":
        return
    eio._async = dict(eio._async, queue=functools.partial(Outbox, coalesce=coalesce), websocket=Outlet)  # noqa: SLF001
