"""Socket.IO's Redis message queue for KD_EXECUTOR=rq: every web instance forwards every event.

Workers and other web instances publish events on the channel; this instance's listener thread
delivers them to its own viewers. It delivers them under the same lock as a subscribe's join, read
and `run_history` (web/events.py), so a viewer never gets an event before its run_history: an
event stored before the read comes after it (a duplicate the client drops by seq), one stored
after the read comes after it too.
"""

import socketio

from . import events


class OrderedRedisManager(socketio.RedisManager):
    """python-socketio's RedisManager, delivering other processes' events in subscribe order.

    on_event((name, data)): also told of every event from another process (a worker's run_status),
    so this instance's sweep scheduler acts on a trial's end at once rather than at its next poll.
    """

    def __init__(self, *args, on_event=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.on_event = on_event

    def _handle_emit(self, message):
        if message.get("host_id") == self.host_id:
            # This instance's own emit: events.broadcast already holds the lock.
            return super()._handle_emit(message)
        with events._in_order:   # noqa: SLF001 - the one lock that orders a room's deliveries
            super()._handle_emit(message)
        if self.on_event:
            self.on_event((message.get("event"), message.get("data")))
        return None


def manager(redis_url, channel, on_event=None):
    """Give the client manager a web instance uses with the message queue on `channel`."""
    return OrderedRedisManager(redis_url, channel=channel, on_event=on_event)
