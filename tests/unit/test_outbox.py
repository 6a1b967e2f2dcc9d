"""web/fanout.py's Outbox as a queue (no socket attached): what a viewer that is behind keeps, and in what order."""

import queue
import socket
import threading
from types import SimpleNamespace

import pytest
from engineio import packet as eio_packet
from socketio import packet as sio_packet
from wsproto.frame_protocol import FrameProtocol

from tests.live import wait_until
from webapp.web import events, fanout


def packet(name, run_id, seq):
    """Give the engine.io packet python-socketio makes for a room's event."""
    data = sio_packet.Packet(sio_packet.EVENT, namespace=events.NAMESPACE,
                             data=[name, {"run_id": run_id, "seq": seq}]).encode()
    return eio_packet.Packet(eio_packet.MESSAGE, data)


def drain(outbox):
    """Give what the writer thread would take, as (name, run_id, seq)."""
    out = []
    while outbox.qsize():
        name, data = sio_packet.Packet(encoded_packet=outbox.get(block=False).data).data
        out.append((name, data["run_id"], data["seq"]))
    return out


def test_a_queued_batch_gives_way_to_a_newer_one_of_its_run_and_nothing_else_does():
    outbox, before = fanout.Outbox(coalesce=events.batch_key), fanout.coalesced()
    sent = [("run_batch", 1, 1), ("run_epoch", 1, 2), ("run_batch", 1, 3), ("run_batch", 2, 4),
            ("run_status", 1, 5), ("run_history", 1, 6), ("run_batch", 1, 7), ("run_epoch", 1, 8)]
    for event in sent:
        outbox.put(packet(*event))
    assert drain(outbox) == [("run_epoch", 1, 2), ("run_batch", 2, 4), ("run_status", 1, 5),
                             ("run_history", 1, 6), ("run_batch", 1, 7), ("run_epoch", 1, 8)]
    assert fanout.coalesced() - before == 2
    assert outbox.unfinished_tasks == len(sent) - 2   # what join() waits for: only what the writer gets


def test_the_shared_frame_is_the_frame_wsproto_builds():
    pkt = packet("run_batch", 3, 9)
    assert fanout.shared_frame(pkt) == FrameProtocol(client=False, extensions=[]).send_data(pkt.encode())
    assert fanout.shared_frame(pkt) is fanout.shared_frame(pkt)   # built once per packet, for a whole room


def test_the_writer_waits_on_while_packets_went_out_directly_and_gives_up_when_none_did():
    outbox = fanout.Outbox()
    outbox.wrote = float("inf")   # as if a packet had just been written directly
    waiter = threading.Thread(target=lambda: outbox.get(timeout=0.01))
    waiter.start()
    outbox.put(packet("run_epoch", 1, 1))   # only a packet in the queue ends the wait
    waiter.join()
    outbox.wrote = 0.0
    with pytest.raises(queue.Empty):
        outbox.get(timeout=0.01)


class Named(list):
    """Stands in for the Flusher: records which Outboxes asked to be flushed (the test flushes them)."""

    add = list.append


def attached(flusher, sndbuf=None):
    """Give (Outbox with `flusher`, attached to one end of a socket pair, the other end) as a plain websocket."""
    ours, theirs = socket.socketpair()
    if sndbuf:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    ws = SimpleNamespace(sock=ours, connected=True,
                         ws=SimpleNamespace(connection=SimpleNamespace(_proto=SimpleNamespace(extensions=[]))))
    outbox = fanout.Outbox(coalesce=events.batch_key, flusher=flusher)
    outbox.attach(ws)
    assert outbox.plain
    return outbox, theirs


def received(sock, size):
    """Read `size` bytes from `sock` (blocking)."""
    data = b""
    while len(data) < size:
        data += sock.recv(size - len(data))
    return data


def test_batches_wait_for_the_flusher_uncoalesced_and_anything_else_takes_them_along_at_once():
    named = Named()
    outbox, theirs = attached(named)
    batches = [packet("run_batch", 1, 1), packet("run_batch", 1, 2)]
    for pkt in batches:
        outbox.put(pkt)
    assert named == [outbox] * 2 and outbox.qsize() == 2   # nothing written yet, nothing dropped
    epoch = packet("run_epoch", 1, 3)
    outbox.put(epoch)   # written now, joined to the batches before it
    wire = b"".join(fanout.shared_frame(p) for p in [*batches, epoch])
    assert outbox.qsize() == 0 and received(theirs, len(wire)) == wire
    last = packet("run_batch", 1, 4)
    outbox.put(last)
    outbox.flush()   # what the Flusher's thread does
    assert received(theirs, len(fanout.shared_frame(last))) == fanout.shared_frame(last)
    assert outbox.qsize() == 0 and outbox.unfinished_tasks == 0


def test_what_the_socket_did_not_take_goes_to_the_writer_first_and_later_packets_after_it():
    outbox, theirs = attached(Named(), sndbuf=4096)
    big = eio_packet.Packet(eio_packet.MESSAGE, sio_packet.Packet(sio_packet.EVENT, namespace=events.NAMESPACE, data=[
        "run_history", {"run_id": 1, "events": "x" * 2_000_000}]).encode())
    outbox.put(big)   # more than the socket takes
    outbox.put(packet("run_epoch", 1, 2))   # waits behind the rest of the history
    outbox.flush()
    rest = outbox.get(block=False)   # the writer thread: the Raw rest of the history comes first
    assert isinstance(rest.encode(), fanout.Raw) and outbox.busy
    later = [packet("run_batch", 1, 3), packet("run_batch", 1, 4), packet("run_epoch", 1, 5)]
    for pkt in later:   # the writer is behind: these wait for it, and the older batch gives way
        outbox.put(pkt)
    assert drain(outbox) == [("run_epoch", 1, 2), ("run_batch", 1, 4), ("run_epoch", 1, 5)]
    wire = fanout.shared_frame(big)
    assert received(theirs, len(wire) - len(rest.encode())) + rest.encode() == wire


def test_the_flusher_thread_flushes_what_was_put():
    flusher = fanout.Flusher(0.001)
    outbox, theirs = attached(flusher)
    sent = [packet("run_batch", 1, 1), packet("run_epoch", 1, 2)]
    for pkt in sent:
        outbox.put(pkt)
    wire = b"".join(fanout.shared_frame(p) for p in sent)
    assert received(theirs, len(wire)) == wire
    wait_until(lambda: outbox.unfinished_tasks == 0, 10, "the flushed packets counted as done")
