"""web/fanout.py's Outbox as a queue (no socket attached): what a viewer that is behind keeps, and in what order."""

import queue
import threading

import pytest
from engineio import packet as eio_packet
from socketio import packet as sio_packet
from wsproto.frame_protocol import FrameProtocol

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
