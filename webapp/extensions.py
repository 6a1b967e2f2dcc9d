"""Extensions, created unbound; `create_app` binds them."""

from flask_socketio import SocketIO

# Threading mode: TensorFlow and green threads do not mix, and training runs in other processes.
# create_app gives its engine.io server web/fanout.py's queues once bound.
socketio = SocketIO(async_mode="threading")
