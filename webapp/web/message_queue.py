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
    """python-socketio's RedisManager, delivering other processes' events in subscribe order."""

    def _handle_emit(self, message):
        if message.get("host_id") == self.host_id:
            # This instance's own emit: events.broadcast already holds the lock.
            return super()._handle_emit(message)
        with events._in_order:   # noqa: SLF001 - the one lock that orders a room's deliveries
            return super()._handle_emit(message)


def manager(redis_url, channel):
    """Give the client manager a web instance uses with the message queue on `channel`."""
    return OrderedRedisManager(redis_url, channel=channel)
