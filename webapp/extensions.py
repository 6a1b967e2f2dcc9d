"""Extensions, created unbound; `create_app` binds them."""

import flask_socketio


class SocketIO(flask_socketio.SocketIO):
    """Flask-SocketIO whose engine.io server fans events out through web/fanout.py's queues."""

    def init_app(self, app, **kwargs):
        """Bind to `app`, then give the engine.io server Outbox queues (coalescing run_batch events)."""
        super().init_app(app, **kwargs)
        from .web import events, fanout   # the web layer imports this module: import it only once bound

        fanout.install(self.server.eio, events.batch_key)


# Threading mode: TensorFlow and green threads do not mix, and training runs in other processes.
socketio = SocketIO(async_mode="threading")
