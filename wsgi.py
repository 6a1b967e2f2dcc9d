"""Entry point: gunicorn serves `app` (`make run`: `gunicorn -c python:webapp.web.server wsgi:app`);
`python wsgi.py [--host H] [--port P]` is the development server (Werkzeug, for debugging only)."""

import argparse

# Trainer processes are spawned, and spawning runs this module again, named __mp_main__ (before the
# child knows its parent: multiprocessing.parent_process() is still None then). They need no app, nor
# what an app imports: building one cost each trainer ~2.3 s before it began importing TensorFlow.
if __name__ != "__mp_main__":
    if __name__ == "__main__":
        from webapp import config
        from webapp.runs import local

        settings = config.load()
        if settings["KD_EXECUTOR"] == "local" and settings["KD_WARM_SPARE"]:
            local.prestart()   # the spare starts importing TensorFlow now, not after the app's imports
    from webapp import create_app

    app = create_app()
else:
    app = None

if __name__ == "__main__":
    from webapp.extensions import socketio
    from webapp.web.server import announce

    parser = argparse.ArgumentParser(description="Serve the Keras dashboard.")
    parser.add_argument("--host", default=app.config["KD_HOST"])
    parser.add_argument("--port", type=int, default=app.config["KD_PORT"])
    args = parser.parse_args()
    announce(app, args.host, args.port)
    app.extensions["kd"].runs.begin(app.config["KD_WARM_SPARE"])   # warm now, not on the first request
    socketio.run(app, host=args.host, port=args.port, allow_unsafe_werkzeug=True)
