"""How many events a second one web instance forwards to 500 viewers of one run, none lost, and the
p99 latency of `GET /api/runs` meanwhile: for the embedded executor and for RQ.

One web instance serves as `python wsgi.py` does (Flask-SocketIO, threading mode). 500 Socket.IO
viewers (websocket; bench/socketio_light.py's, 250 per process on one selector each, since
python-socketio's client took more CPU than the server it measured) subscribe to one run. A source process stands in for a trainer:
it stores each event through the journal (SQLite, as by default), then delivers it as the executor
does: embedded, over a pipe to a relay thread in the web process (runs/local.py's path); RQ, through
Socket.IO's Redis message queue (rq_shared.Emitter, the work-horse's path). One event in 10 is a
run_epoch, the rest run_batch. Rates step up while the step loses nothing and every viewer gets the
last event within a second of the source sending it; the last such rate is printed.

"None lost" means: every viewer got every run_epoch, and the last run_batch, in seq order. A viewer
that falls behind may skip a run_batch that a newer one replaced while both waited in its queue
(web/fanout.py); each line prints how many such batches were coalesced, counted at the viewers.
`--fanout direct,outbox` runs the same steps with web/fanout.py writing each packet from the emitting
thread at once (FLUSH_S = 0) and then with its Flusher (the default), in one invocation, for an A/B
on one machine load; `upstream` is python-engineio's own per-viewer queue and writer thread (the
state before web/fanout.py), and `both` is upstream,outbox.

Usage: .venv/bin/python bench/viewers.py [--viewers 500] [--executor local|rq|both] [--seconds 5]
       [--fanout outbox|direct|upstream[,...]|both]
Needs redis-server on PATH for RQ. Everything listens on 127.0.0.1 only.
"""

import argparse
import multiprocessing
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Client, Listener
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))   # socketio_light, also in spawned viewer processes

import requests

from tests.deployment import RedisServer
from tests.live import free_port, wait_until
from tests.specs import MLP, spec

RATES = (5, 10, 20, 30, 40, 60, 80, 120, 160, 240, 320)
GOAL_RATE, GOAL_P99_MS = 40, 100   # issue 13: events/s to 500 viewers, none lost; GET /api/runs p99 meanwhile
EPOCH_EVERY = 10
spawn = multiprocessing.get_context("spawn")


def serve(env, port, relay, fanout):
    """The web instance: create_app as wsgi.py does; embedded, a relay thread feeds it events.

    fanout "upstream": python-engineio's own queue and writer thread per viewer; "direct": web/fanout.py
    writing each packet from the emitting thread at once (FLUSH_S = 0); "outbox": with its Flusher.
    """
    os.environ.update(env)
    import logging

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)   # no line per request or per closed socket
    from webapp import create_app
    from webapp.extensions import socketio
    from webapp.web import fanout as web_fanout

    if fanout == "direct":
        web_fanout.FLUSH_S = 0

    app = create_app()
    if fanout == "upstream":
        import importlib

        socketio.server.eio._async = importlib.import_module("engineio.async_drivers.threading")._async
    if relay:
        kd = app.extensions["kd"]

        def forward():   # LocalExecutor._relay: a trainer's pipe -> on_event, one source after another
            with Listener(relay, authkey=b"bench") as listener:
                while True:
                    with listener.accept() as conn:
                        try:
                            while True:
                                kd.runs.on_event(conn.recv())
                        except EOFError:
                            pass

        threading.Thread(target=forward, daemon=True).start()
    socketio.run(app, host="127.0.0.1", port=port, allow_unsafe_werkzeug=True, log_output=False)


def source(env, run_id, rate, seconds, relay, out):
    """A trainer stand-in: store events through the journal at `rate`/s (one in 10 a run_epoch), then deliver each.

    Sends (epoch seqs, batch seqs, achieved rate, time of the last send) to `out`; the last event is a batch.
    """
    from webapp.runs import journal, rq_shared
    from webapp.db.store import Store

    store = Store(env["KD_DATABASE_URL"])
    deliver = Client(relay, authkey=b"bench").send if relay else rq_shared.Emitter(env["KD_REDIS_URL"],
                                                                                    env["KD_SOCKETIO_CHANNEL"])
    seqs, start, count = {"run_epoch": [], "run_batch": []}, time.perf_counter(), int(rate * seconds)
    for i in range(count):
        time.sleep(max(start + i / rate - time.perf_counter(), 0))
        if i % EPOCH_EVERY == EPOCH_EVERY - 1 and i < count - 1:
            event = journal.add_epoch(store, run_id, i // EPOCH_EVERY + 1, {"loss": 0.5}, sent_at=time.time())
        else:
            event = journal.add_batch(store, run_id, {"epoch": 1, "batch": i + 1, "steps": 0, "logs": {"loss": 0.5},
                                                      "samples_per_s": 0.0, "eta_s": None, "sent_at": time.time()})
        deliver(event)
        seqs[event[0]].append(event[1]["seq"])
    out.send((seqs["run_epoch"], seqs["run_batch"], count / (time.perf_counter() - start), time.time()))


def watch(url, token, run_id, count, conn):
    """A viewer process: `count` light Socket.IO viewers subscribed to the run; answers each ("report", epochs, batches).

    The answer: (epochs missed, viewers that missed an epoch or the last batch, batches received,
    viewers that got a seq after a higher one, when the last batch arrived at the last viewer or None).
    """
    from socketio_light import LightViewer, serve_viewers

    viewers = [LightViewer(url, token, run_id, time.time) for _ in range(count)]
    conn.send("ready")

    def answer(message):
        _, epochs, batches = message
        missed = [sum(1 for s in epochs if s not in v.received) + (batches[-1] not in v.received) for v in viewers]
        got = sum(sum(1 for s in batches if s in v.received) for v in viewers)
        arrived = [v.received[batches[-1]] for v in viewers if batches[-1] in v.received]
        return (sum(missed), sum(1 for m in missed if m), got, sum(1 for v in viewers if v.disorder),
                max(arrived, default=None))

    serve_viewers(viewers, conn, answer)
    os._exit(0)   # 500 polite disconnects take long, and the web instance goes away next anyway


class Probe(threading.Thread):
    """GET /api/runs in a loop, one request at a time, recording each latency (ms)."""

    def __init__(self, url, token):
        super().__init__(daemon=True)
        self.url, self.token, self.ms, self.done = url, token, [], threading.Event()

    def run(self):
        """Request until told to stop."""
        with requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {self.token}"
            while not self.done.is_set():
                t = time.perf_counter()
                assert http.get(f"{self.url}/api/runs", timeout=30).status_code == 200
                self.ms.append((time.perf_counter() - t) * 1000)
                time.sleep(0.02)

    def stop(self):
        """Stop and give (p50, p99, count)."""
        self.done.set()
        self.join()
        ms = sorted(self.ms)
        return statistics.median(ms), ms[min(int(len(ms) * 0.99), len(ms) - 1)], len(ms)


def cpu_s(pids):
    """Give the CPU seconds (user + system) the processes `pids` have used so far."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def step(env, url, token, run_id, rate, seconds, relay, viewers, count, pids):
    """Send at `rate` for `seconds`; give a dict of what happened (see `bench` for the keys)."""
    probe = Probe(url, token)
    probe.start()
    cpu, t0 = [cpu_s(p) for p in pids], time.perf_counter()
    ours, theirs = spawn.Pipe()
    proc = spawn.Process(target=source, args=(env, run_id, rate, seconds, relay, theirs))
    proc.start()
    epochs, batches, achieved, sent = ours.recv()
    proc.join()
    deadline = time.time() + 10
    while True:   # wait for the stragglers; past 10 s what is missing is lost
        for conn in viewers:
            conn.send(("report", epochs, batches))
        reports = [conn.recv() for conn in viewers]
        lost, late = sum(r[0] for r in reports), sum(r[1] for r in reports)
        if lost == 0 or time.time() > deadline:
            break
        time.sleep(0.2)
    p50, p99, _ = probe.stop()
    wall = time.perf_counter() - t0
    web_s, clients_s = [cpu_s(p) - c for p, c in zip(pids, cpu)]
    arrived = [r[4] for r in reports if r[4] is not None]
    return {"achieved": achieved, "lost": lost, "late": late, "p50": p50, "p99": p99, "web": web_s / wall,
            "clients": clients_s / wall, "web_s": web_s,
            "lag": max(arrived) - sent if arrived and lost == 0 else float("inf"),
            "coalesced": len(batches) * count - sum(r[2] for r in reports), "batches": len(batches) * count,
            "disorder": sum(r[3] for r in reports), "messages": (len(epochs) + len(batches)) * count}


def instance(executor, redis_url, fanout):
    """Start a web instance of `executor` with one queued run and an admin; give what a bench needs."""
    data = Path(tempfile.mkdtemp(prefix=f"kd-bench-{executor}-"))
    port = free_port()
    env = {"KD_DATA_DIR": str(data), "KD_DATABASE_URL": f"sqlite:///{data / 'dashboard.db'}",
           "KD_EXECUTOR": executor, "KD_WARM_SPARE": "0", "KD_MAX_CONCURRENT_RUNS": "0",   # nothing trains
           "KD_REDIS_URL": redis_url or "", "KD_SOCKETIO_CHANNEL": f"kd-bench-{port}"}
    relay = ("127.0.0.1", free_port()) if executor == "local" else None
    if executor == "rq":   # a team deployment migrates by command, before starting
        from webapp.db import migrations
        from webapp.db.store import Store

        migrations.upgrade(Store(env["KD_DATABASE_URL"]).engine)
    server = spawn.Process(target=serve, args=(env, port, relay, fanout), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _ok(url), 60, "the web instance answering")
    token = sign_in(env)
    run_id = requests.post(f"{url}/api/runs", json=spec(MLP, name="bench"), timeout=60,
                           headers={"Authorization": f"Bearer {token}"}).json()["run"]["id"]
    return env, server, url, relay, token, run_id


def connect(url, token, run_id, count, processes=2):
    """Start `count` viewers in `processes` processes and wait until all subscribed; give (pipes, processes)."""
    viewers, procs = [], []
    for i in range(processes):
        ours, theirs = spawn.Pipe()
        n = count // processes + (1 if i < count % processes else 0)
        procs.append(spawn.Process(target=watch, args=(url, token, run_id, n, theirs), daemon=True))
        procs[-1].start()
        viewers.append(ours)
    for conn in viewers:
        assert conn.recv() == "ready"
    return viewers, procs


def bench(executor, count, seconds, redis_url, fanout):
    """Measure one executor with one fan-out: print the idle latency, a line per rate, and the result."""
    env, server, url, relay, token, run_id = instance(executor, redis_url, fanout)
    t = time.perf_counter()
    viewers, procs = connect(url, token, run_id, count)
    print(f"\n{executor}, fan-out {fanout}: {count} viewers connected and subscribed in {time.perf_counter() - t:.1f} s "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    probe = Probe(url, token)
    probe.start()
    time.sleep(3)
    p50, p99, _ = probe.stop()
    print(f"  idle: GET /api/runs p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    best = None
    for rate in RATES:
        r = step(env, url, token, run_id, rate, seconds, relay, viewers, count,
                 ([server.pid], [p.pid for p in procs]))
        ok = r["lost"] == 0 and r["disorder"] == 0 and r["lag"] < 1.0 and r["achieved"] > 0.9 * rate
        why = ("" if ok else "  <- the source could not store events faster" if r["lost"] == 0 and r["lag"] < 1.0
               else "  <- the web instance (or the viewers' processes) did not keep up")
        web_ms = r["web_s"] * 1e6 / max(r["messages"], 1)   # CPU ms per 1000 messages: steadier than rates on a busy machine
        print(f"  {rate:4d} events/s asked, {r['achieved']:5.1f} sent: lost {r['lost']} (epochs + last batch, at "
              f"{r['late']} viewers), out of order at {r['disorder']}; batches coalesced {r['coalesced']} of "
              f"{r['batches']} ({r['coalesced'] / max(r['batches'], 1):.1%}); last event {r['lag']:.2f} s after "
              f"sending; GET /api/runs p50 {r['p50']:.0f} ms, p99 {r['p99']:.0f} ms (goal <= {GOAL_P99_MS}); "
              f"CPU: web {r['web']:.0%} (~{web_ms:.0f} ms per 1000 messages), viewers {r['clients']:.0%} of a "
              f"core; load {os.getloadavg()[0]:.1f}{why}")
        if not ok:
            break
        best = r
    print(f"RESULT {executor}, fan-out {fanout}: {best['achieved']:.0f} events/s (goal >= {GOAL_RATE}) forwarded to "
          f"{count} viewers ({best['achieved'] * count:.0f} messages/s), none lost, {best['coalesced']} of "
          f"{best['batches']} batch deliveries coalesced; GET /api/runs p99 {best['p99']:.0f} ms meanwhile "
          f"(goal <= {GOAL_P99_MS}); load average {os.getloadavg()[0]:.1f}" if best
          else f"RESULT {executor}, fan-out {fanout}: not even {RATES[0]} events/s to {count} viewers")
    for conn in viewers:
        conn.send(("stop",))
    for proc in procs:
        proc.join(timeout=10)
    server.kill()


def sign_in(env):
    """Create an admin account in the instance's database; give an API token of theirs."""
    from webapp.team import accounts
    from webapp.db.store import Store

    store = Store(env["KD_DATABASE_URL"])
    return accounts.new_api_token(store, accounts.create_user(store, "bench", "admin", "bench-password").id)


def _ok(url):
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def fanouts(text):
    """Parse --fanout: give the fan-outs to run in turn."""
    names = ["upstream", "outbox"] if text == "both" else text.split(",")
    if not names or any(n not in ("outbox", "direct", "upstream") for n in names):
        raise argparse.ArgumentTypeError(f"--fanout: {text!r}: give outbox, direct, upstream, comma-separated, or both")
    return names


def main():
    """Parse the arguments and run the benches."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=500)
    parser.add_argument("--executor", choices=("local", "rq", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--fanout", type=fanouts, default="outbox",
                        help="comma-separated, run in turn: outbox (web/fanout.py with its Flusher), direct "
                             "(web/fanout.py writing at once from the emitting thread), upstream (python-engineio's "
                             "own writer threads); both = upstream,outbox")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    executors = ("local", "rq") if args.executor == "both" else (args.executor,)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))   # `timeout` too ends with the cleanup below
    redis = RedisServer(Path(tempfile.mkdtemp(prefix="kd-bench-redis-")) / "redis.log") if "rq" in executors else None
    try:
        for executor in executors:
            for fanout in args.fanout:
                bench(executor, args.viewers, args.seconds, redis.url if redis else None, fanout)
    finally:
        if redis:
            redis.close()


if __name__ == "__main__":
    main()
