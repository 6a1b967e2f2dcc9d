"""How many events a second one web instance forwards to 500 viewers of one run, none lost, and the
p99 latency of `GET /api/runs` meanwhile: for the embedded executor and for RQ.

One web instance serves as `python wsgi.py` does (Flask-SocketIO, threading mode). 500 Socket.IO
clients (websocket, in 4 processes) subscribe to one run. A source process stands in for a trainer:
it stores each event through the journal (SQLite, as by default), then delivers it as the executor
does: embedded, over a pipe to a relay thread in the web process (runs/local.py's path); RQ, through
Socket.IO's Redis message queue (rq_shared.Emitter, the work-horse's path). Rates step up while every
viewer gets every event within a second of the source's last one; the last such rate is printed.

Usage: .venv/bin/python bench/viewers.py [--viewers 500] [--executor local|rq|both] [--seconds 5]
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

import requests  # noqa: E402

from tests.deployment import RedisServer  # noqa: E402
from tests.live import free_port, wait_until  # noqa: E402
from tests.specs import MLP, spec  # noqa: E402

RATES = (2, 4, 6, 8, 10, 15, 20, 30, 40, 60, 80, 120, 160, 240, 320)
spawn = multiprocessing.get_context("spawn")


def serve(env, port, relay):
    """The web instance: create_app as wsgi.py does; embedded, a relay thread feeds it events."""
    os.environ.update(env)
    import logging

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)   # no line per request or per closed socket
    from webapp import create_app
    from webapp.extensions import socketio

    app = create_app()
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
    """A trainer stand-in: store run_batch events through the journal at `rate`/s, then deliver each."""
    from webapp.runs import journal, rq_shared
    from webapp.store import Store

    store = Store(env["KD_DATABASE_URL"])
    deliver = Client(relay, authkey=b"bench").send if relay else rq_shared.Emitter(env["KD_REDIS_URL"],
                                                                                    env["KD_SOCKETIO_CHANNEL"])
    seqs, start = [], time.perf_counter()
    for i in range(int(rate * seconds)):
        time.sleep(max(start + i / rate - time.perf_counter(), 0))
        event = journal.add_batch(store, run_id, {"epoch": 1, "batch": i + 1, "steps": 0, "logs": {"loss": 0.5},
                                                  "samples_per_s": 0.0, "eta_s": None, "sent_at": time.time()})
        deliver(event)
        seqs.append(event[1]["seq"])
    out.send((seqs[0], seqs[-1], len(seqs) / (time.perf_counter() - start), time.time()))


def watch(url, token, run_id, count, conn):
    """A viewer process: `count` Socket.IO clients subscribed to the run; answers ("report", first, last)."""
    from tests.live import InOrderClient   # handlers run on the read loop, not a thread per event

    received = [dict() for _ in range(count)]
    clients = []
    for i in range(count):
        sio = InOrderClient(reconnection=False)
        sio.on("run_batch", lambda data, mine=received[i]: mine.__setitem__(data["seq"], time.time()),
               namespace="/runs")
        sio.connect(url, namespaces=["/runs"], transports=["websocket"], auth={"token": token}, wait_timeout=60)
        assert sio.call("subscribe", {"run_id": run_id}, namespace="/runs", timeout=60)["ok"]
        clients.append(sio)
    conn.send("ready")
    while (message := conn.recv())[0] == "report":
        _, first, last = message
        wanted = range(first, last + 1)
        missing = [sum(1 for s in wanted if s not in mine) for mine in received]
        arrived = [mine[last] for mine in received if last in mine]
        conn.send((sum(missing), sum(1 for m in missing if m), max(arrived, default=None)))
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


def step(env, url, token, run_id, rate, seconds, relay, viewers, pids):
    """Send at `rate` for `seconds`; give (achieved rate, lost, late viewers, lag s, p50, p99, CPU shares)."""
    probe = Probe(url, token)
    probe.start()
    cpu, t0 = [cpu_s(p) for p in pids], time.perf_counter()
    ours, theirs = spawn.Pipe()
    proc = spawn.Process(target=source, args=(env, run_id, rate, seconds, relay, theirs))
    proc.start()
    first, last, achieved, sent = ours.recv()
    proc.join()
    deadline = time.time() + 10
    while True:   # wait for the stragglers; past 10 s what is missing is lost
        for conn in viewers:
            conn.send(("report", first, last))
        reports = [conn.recv() for conn in viewers]
        lost, late = sum(r[0] for r in reports), sum(r[1] for r in reports)
        if lost == 0 or time.time() > deadline:
            break
        time.sleep(0.2)
    p50, p99, _ = probe.stop()
    wall = time.perf_counter() - t0
    shares = [(cpu_s(p) - c) / wall for p, c in zip(pids, cpu)]
    arrived = [r[2] for r in reports if r[2] is not None]
    lag = max(arrived) - sent if arrived and lost == 0 else float("inf")
    return achieved, lost, late, lag, p50, p99, shares


def instance(executor, redis_url):
    """Start a web instance of `executor` with one queued run and an admin; give what a bench needs."""
    data = Path(tempfile.mkdtemp(prefix=f"kd-bench-{executor}-"))
    port = free_port()
    env = {"KD_DATA_DIR": str(data), "KD_DATABASE_URL": f"sqlite:///{data / 'dashboard.db'}",
           "KD_EXECUTOR": executor, "KD_WARM_SPARE": "0", "KD_MAX_CONCURRENT_RUNS": "0",   # nothing trains
           "KD_REDIS_URL": redis_url or "", "KD_SOCKETIO_CHANNEL": f"kd-bench-{port}"}
    relay = ("127.0.0.1", free_port()) if executor == "local" else None
    if executor == "rq":   # a team deployment migrates by command, before starting
        from webapp import migrations
        from webapp.store import Store

        migrations.upgrade(Store(env["KD_DATABASE_URL"]).engine)
    server = spawn.Process(target=serve, args=(env, port, relay), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _ok(url), 60, "the web instance answering")
    token = sign_in(env)
    run_id = requests.post(f"{url}/api/runs", json=spec(MLP, name="bench"), timeout=60,
                           headers={"Authorization": f"Bearer {token}"}).json()["run"]["id"]
    return env, server, url, relay, token, run_id


def connect(url, token, run_id, count, processes=4):
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


def bench(executor, count, seconds, redis_url):
    """Measure one executor: print the idle latency, a line per rate, and the result."""
    env, server, url, relay, token, run_id = instance(executor, redis_url)
    t = time.perf_counter()
    viewers, procs = connect(url, token, run_id, count)
    print(f"\n{executor}: {count} viewers connected and subscribed in {time.perf_counter() - t:.1f} s "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    probe = Probe(url, token)
    probe.start()
    time.sleep(3)
    p50, p99, _ = probe.stop()
    print(f"  idle: GET /api/runs p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    best = None
    for rate in RATES:
        achieved, lost, late, lag, p50, p99, (web, clients) = step(
            env, url, token, run_id, rate, seconds, relay, viewers, ([server.pid], [p.pid for p in procs]))
        ok = lost == 0 and lag < 1.0 and achieved > 0.9 * rate
        why = ("" if ok else "  <- the source could not store events faster" if lost == 0 and lag < 1.0
               else "  <- the web instance did not keep up")
        print(f"  {rate:4d} events/s asked, {achieved:6.1f} sent: lost {lost} (at {late} viewers), "
              f"last event {lag:.2f} s after sending; GET /api/runs p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
              f"CPU: web {web:.0%}, viewers {clients:.0%} of a core{why}")
        if not ok:
            break
        best = (achieved, p99)
    print(f"RESULT {executor}: {best[0]:.0f} events/s forwarded to {count} viewers ({best[0] * count:.0f} "
          f"messages/s), none lost; GET /api/runs p99 {best[1]:.1f} ms meanwhile" if best
          else f"RESULT {executor}: not even {RATES[0]} events/s to {count} viewers")
    for conn in viewers:
        conn.send(("stop",))
    for proc in procs:
        proc.join(timeout=10)
    server.kill()


def sign_in(env):
    """Create an admin account in the instance's database; give an API token of theirs."""
    from webapp import accounts
    from webapp.store import Store

    store = Store(env["KD_DATABASE_URL"])
    return accounts.new_api_token(store, accounts.create_user(store, "bench", "admin", "bench-password").id)


def _ok(url):
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def main():
    """Parse the arguments and run the benches."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=500)
    parser.add_argument("--executor", choices=("local", "rq", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    executors = ("local", "rq") if args.executor == "both" else (args.executor,)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))   # `timeout` too ends with the cleanup below
    redis = RedisServer(Path(tempfile.mkdtemp(prefix="kd-bench-redis-")) / "redis.log") if "rq" in executors else None
    try:
        for executor in executors:
            bench(executor, args.viewers, args.seconds, redis.url if redis else None)
    finally:
        if redis:
            redis.close()


if __name__ == "__main__":
    main()
