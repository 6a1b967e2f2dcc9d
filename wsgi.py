"""Entry point: `python wsgi.py [--host H] [--port P]` serves HTTP and Socket.IO; gunicorn uses `app`."""

import argparse
import multiprocessing

# Trainer processes are spawned, and spawning runs this module again (as __mp_main__). They need no
# app, nor what an app imports (Flask, Alembic, Socket.IO: ~1.8 CPU s in each trainer's start).
if multiprocessing.parent_process() is None:
    from webapp import create_app

    app = create_app()
else:
    app = None

if __name__ == "__main__":
    from webapp.extensions import socketio
    from webapp.web.auth import setup_link

    parser = argparse.ArgumentParser(description="Serve the Keras dashboard.")
    parser.add_argument("--host", default=app.config["KD_HOST"])
    parser.add_argument("--port", type=int, default=app.config["KD_PORT"])
    args = parser.parse_args()
    print(f"Keras dashboard: http://{args.host}:{args.port}/", flush=True)
    link = setup_link(app)
    if link:
        print(f"No account yet: create the first admin at http://{args.host}:{args.port}{link}", flush=True)
    app.extensions["kd"].runs.begin(app.config["KD_WARM_SPARE"])   # warm now, not on the first request
    socketio.run(app, host=args.host, port=args.port, allow_unsafe_werkzeug=True)
