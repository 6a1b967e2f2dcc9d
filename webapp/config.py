"""Settings from KD_* environment variables, in one place."""

import os
import secrets
from pathlib import Path


def _int(env, name, default):
    try:
        return int(env.get(name, default))
    except ValueError:
        raise SystemExit(f"{name} must be a whole number; got {env.get(name)!r}") from None


def _choice(env, name, default, choices):
    value = env.get(name, default)
    if value not in choices:
        raise SystemExit(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def secret_key(data_dir):
    """Give KD_SECRET_KEY, or a key generated once and kept (mode 0600) in the data dir."""
    path = Path(data_dir) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    os.replace(tmp, path)
    return key


def load(env=None):
    """Give the Flask config dict built from the environment (os.environ by default)."""
    env = os.environ if env is None else env
    data_dir = Path(env.get("KD_DATA_DIR", "instance")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    max_upload_mb = _int(env, "KD_MAX_UPLOAD_MB", 200)
    return {
        "KD_HOST": env.get("KD_HOST", "127.0.0.1"),
        "KD_PORT": _int(env, "KD_PORT", 5000),
        "KD_DATA_DIR": str(data_dir),
        "KD_DATABASE_URL": env.get("KD_DATABASE_URL", f"sqlite:///{data_dir / 'dashboard.db'}"),
        "KD_EXECUTOR": _choice(env, "KD_EXECUTOR", "local", ("local", "rq")),
        "KD_REDIS_URL": env.get("KD_REDIS_URL", "redis://127.0.0.1:6379/0"),
        # KD_EXECUTOR=rq: the RQ queue runs wait in, the Socket.IO message-queue channel (both shared
        # by every web instance and worker of one deployment), the longest a run may train, and how
        # often a worker proves it is alive (a silent worker's run fails after 3 beats).
        "KD_RQ_QUEUE": env.get("KD_RQ_QUEUE", "kd-runs"),
        "KD_SOCKETIO_CHANNEL": env.get("KD_SOCKETIO_CHANNEL", "kd-socketio"),
        "KD_RUN_TIMEOUT_S": _int(env, "KD_RUN_TIMEOUT_S", 7 * 24 * 3600),
        "KD_WORKER_HEARTBEAT_S": max(_int(env, "KD_WORKER_HEARTBEAT_S", 10), 1),
        "KD_MAX_CONCURRENT_RUNS": _int(env, "KD_MAX_CONCURRENT_RUNS", 1),
        "KD_MAX_UPLOAD_MB": max_upload_mb,
        "KD_MAX_PARAMS": _int(env, "KD_MAX_PARAMS", 50_000_000),              # a larger model is refused
        "KD_MAX_QUEUED_PER_USER": _int(env, "KD_MAX_QUEUED_PER_USER", 10),    # runs one user may have waiting
        # A training step's activations (modelspec/memory.py's estimate at the run's batch size), and one
        # sample's in the web process (the inside view, predict-one): past them a model is refused, 422.
        "KD_MAX_ACTIVATION_MB": _int(env, "KD_MAX_ACTIVATION_MB", 4096),
        "KD_MAX_WEB_ACTIVATION_MB": _int(env, "KD_MAX_WEB_ACTIVATION_MB", 512),
        # Try-your-own's text (characters) and series (values) for text, sequence and series runs.
        "KD_MAX_TEXT_CHARS": max(_int(env, "KD_MAX_TEXT_CHARS", 20_000), 1),
        "KD_MAX_SERIES_POINTS": max(_int(env, "KD_MAX_SERIES_POINTS", 100_000), 1),
        # How many proxies in front of the app to believe about the client's address and scheme
        # (X-Forwarded-For, X-Forwarded-Proto); 0 believes none, so a client cannot forge them.
        "KD_TRUSTED_PROXIES": _int(env, "KD_TRUSTED_PROXIES", 0),
        # A dataset's decoded arrays (and the conversions on the way), and its number of images.
        "KD_MAX_DATASET_MB": _int(env, "KD_MAX_DATASET_MB", 2000),
        "KD_MAX_IMAGES": _int(env, "KD_MAX_IMAGES", 1_000_000),   # also the most series (rows) of a series upload
        # A text folder's number of texts and the longest one (its file's bytes), and a series' values a row.
        "KD_MAX_TEXTS": _int(env, "KD_MAX_TEXTS", 1_000_000),
        "KD_MAX_TEXT_KB": _int(env, "KD_MAX_TEXT_KB", 1024),
        "KD_MAX_SERIES_LENGTH": _int(env, "KD_MAX_SERIES_LENGTH", 100_000),
        # The longest one dataset build may take (the builder is killed past it, or the RQ job times
        # out); builds go one at a time, so this is the longest an upload can hold the others up.
        "KD_MAX_BUILD_S": max(_int(env, "KD_MAX_BUILD_S", 600), 1),
        # The augmentation preview's largest layer output, all samples together (height × width ×
        # channels × samples), reckoned before Keras runs the layers in the web process, which takes
        # about 30 bytes a value (measured: 16M values grew it by 0.47 GB). 8M: 16 samples of 408×408
        # RGB, the page's 8 of 577×577.
        "KD_MAX_PREVIEW_PIXELS": _int(env, "KD_MAX_PREVIEW_PIXELS", 8_000_000),
        # Exports (deploy/): the longest one build may take (killed past it, or the RQ job times out),
        # how many of one run's may be building at once (each holds a worker), and the most instances
        # one POST /api/runs/ID/predict may send (each image part or pixel array is one).
        "KD_MAX_EXPORT_S": max(_int(env, "KD_MAX_EXPORT_S", 600), 1),
        "KD_MAX_EXPORTS_BUILDING": max(_int(env, "KD_MAX_EXPORTS_BUILDING", 2), 1),
        "KD_MAX_PREDICT_BATCH": max(_int(env, "KD_MAX_PREDICT_BATCH", 64), 1),
        "KD_MAX_WEIGHTS_PER_USER": max(_int(env, "KD_MAX_WEIGHTS_PER_USER", 20), 1),
        # The most trials one sweep may plan (resumes included): each is a run, with its own files.
        "KD_MAX_TRIALS": _int(env, "KD_MAX_TRIALS", 200),
        # The most records of training dynamics a run keeps (runs/dynamics.py): past it the stride doubles
        # and every other record goes, so dynamics.json and GET /api/runs/ID/dynamics stay bounded.
        "KD_DYNAMICS_MAX_STEPS": max(_int(env, "KD_DYNAMICS_MAX_STEPS", 500), 2),
        # "imagenet" backbone weights missing from Keras's cache: 1 lets Keras download them (a machine
        # online); 0 refuses such a spec with a 422 naming the file to put there.
        "KD_DOWNLOAD_WEIGHTS": env.get("KD_DOWNLOAD_WEIGHTS", "0") == "1",
        "KD_WARM_SPARE": env.get("KD_WARM_SPARE", "1") != "0",          # keep a trainer process ready
        # bench/runs.py: the trainer writes each callback's time per epoch to hook_times.json (runs/hook_times.py).
        "KD_TIME_CALLBACKS": env.get("KD_TIME_CALLBACKS", "0") == "1",
        "KD_STOP_GRACE_S": float(env.get("KD_STOP_GRACE_S", "30")),     # stop -> kill after this
        "SECRET_KEY": env.get("KD_SECRET_KEY") or secret_key(data_dir),
        # Flask answers 413 past this, before the body is read.
        "MAX_CONTENT_LENGTH": max_upload_mb * 1024 * 1024,
        "JSON_SORT_KEYS": False,
        # Cookies: not readable by scripts, not sent on cross-site subrequests; HTTPS-only when
        # KD_SECURE_COOKIES=1 (set it behind TLS; plain http://127.0.0.1 needs it off).
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env.get("KD_SECURE_COOKIES", "0") == "1",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": env.get("KD_SECURE_COOKIES", "0") == "1",
    }
