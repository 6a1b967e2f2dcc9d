"""Light Socket.IO viewers for bench/viewers.py: hundreds of websocket clients of /runs on one thread and selector.

python-socketio's client runs three threads per connection; 500 of them on the 2-core machine woke
thousands of threads per event and used more CPU than the web instance they measured, so that the
bench measured its own viewers. These speak the same wire protocol (Engine.IO 4 over a websocket,
Socket.IO 5 on namespace /runs: connect with an auth token, `subscribe` with an ack, answer pings)
and parse the server's unmasked text frames by hand. The tests use python-socketio's real client.
"""

import base64
import json
import os
import selectors
import socket
from urllib.parse import urlsplit

from wsproto.frame_protocol import FrameProtocol

NAMESPACE = "/runs"
EVENT = f"42{NAMESPACE},"


class LightViewer:
    """One websocket viewer of a run: records {seq: arrival time} of run_batch/run_epoch, and disorder."""

    def __init__(self, url, token, run_id, clock):
        self.clock, self.received, self.latest, self.disorder = clock, {}, 0, 0
        self.buffer, self.closed = bytearray(), False
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                           f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, _, rest = bytes(self.buffer).partition(b"\r\n\r\n")
        assert b" 101 " in head.split(b"\r\n")[0], head
        self.buffer = bytearray(rest)
        self._expect("0")   # engine.io open
        self.send(f"40{NAMESPACE},{json.dumps({'token': token})}")
        self._expect(f"40{NAMESPACE},")
        self.send(f"42{NAMESPACE},1{json.dumps(['subscribe', {'run_id': run_id}])}")
        self._expect(f"43{NAMESPACE},1")
        self.sock.setblocking(False)

    def send(self, text):
        """Send one text message (masked, as a client must)."""
        self.sock.sendall(bytes(FrameProtocol(client=True, extensions=[]).send_data(text)))

    def _recv(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed a viewer's websocket")
        return data

    def _expect(self, prefix):
        """Read messages (handling them) until one starts with `prefix`."""
        while True:
            for text in self._messages():
                if text.startswith(prefix):
                    return text
            self.buffer += self._recv()

    def on_readable(self):
        """Read what arrived and handle every whole message in it."""
        try:
            self.buffer += self._recv()
        except BlockingIOError:
            return
        except OSError:
            self.closed = True
            return
        for _ in self._messages():
            pass

    def _messages(self):
        """Yield each whole text message in the buffer, handled: pings answered, run events recorded."""
        while (frame := _frame(self.buffer)) is not None:
            opcode, payload, size = frame
            del self.buffer[:size]
            if opcode == 0x8:
                self.closed = True
                return
            text = payload.decode()
            if text == "2":
                self.send("3")   # engine.io pong
            elif text.startswith(EVENT):
                self._record(text)
            yield text

    def _record(self, text):
        name, data = json.loads(text[len(EVENT):])[:2]
        if name in ("run_batch", "run_epoch"):
            seq = data["seq"]
            self.disorder += seq < self.latest
            self.latest = max(self.latest, seq)
            self.received[seq] = self.clock()


def _frame(buffer):
    """Give (opcode, payload, frame size) of the first whole unmasked frame in `buffer`, or None."""
    if len(buffer) < 2:
        return None
    length, start = buffer[1] & 0x7F, 2
    if length == 126:
        if len(buffer) < 4:
            return None
        length, start = int.from_bytes(buffer[2:4], "big"), 4
    elif length == 127:
        if len(buffer) < 10:
            return None
        length, start = int.from_bytes(buffer[2:10], "big"), 10
    if len(buffer) < start + length:
        return None
    return buffer[0] & 0x0F, bytes(buffer[start:start + length]), start + length


def serve_viewers(viewers, conn, answer):
    """Read every viewer's socket on one selector until the pipe `conn` says stop; `answer(message)` replies to it."""
    selector = selectors.DefaultSelector()
    for viewer in viewers:
        selector.register(viewer.sock, selectors.EVENT_READ, viewer)
    selector.register(conn, selectors.EVENT_READ, None)
    while True:
        for key, _ in selector.select():
            if key.data is not None:
                key.data.on_readable()
                if key.data.closed:
                    selector.unregister(key.fileobj)
            elif (message := conn.recv())[0] == "report":
                conn.send(answer(message))
            else:
                return
