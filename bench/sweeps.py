"""Sweeps through the dashboard beside plain Optuna + Keras: trials per hour, and the gap between trials.

One invocation starts the parts as a team deploys them (tests/deployment.py: redis-server, the
database upgraded by the CLI, `make run`'s gunicorn with KD_EXECUTOR=rq, `flask --app wsgi worker`)
and a `make run` server with the embedded executor, on temporary data dirs, and prints:

1. trials per hour: one sweep (random sampler, no pruner, digits MLP) with one RQ worker and with
   two, POST /api/sweeps -> status completed; beside it the same trials in one process with plain
   Optuna + Keras (bench/sweep_baseline.py: study.optimize). Twice: each worker pinned to a core of
   its own (`taskset`), as workers on machines of their own (goal: two >= 1.8x one); and every
   worker on every core, where one worker already keeps both busy (its next work-horse imports
   TensorFlow on one core while its run trains on the other), so a second adds little here.
2. the gap between trials: a sweep of parallel 1, from one trial's run ending (its final run_status
   at a Socket.IO client) to the next trial's first run_batch at that client (goal <= 1.5 s),
   under the embedded executor (the warm spare) and under RQ; median and max, and where the
   seconds go (from the runs' own times: the previous run's finished_at, the next one's
   created_at, started_at, and its first run_batch's sent_at); beside it the same gap in the
   plain Optuna loop (objective returned -> next trial's first batch).

Usage: .venv/bin/python bench/sweeps.py [--trials 8] [--epochs 3] [--repeat 1] [--gap-trials 6] [--gap-epochs 3,30]
       [--gap-executors local,rq] [--only throughput,gap]   (defaults: ~6 min on a quiet machine)
"""

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import wait_idle, warm_web  # noqa: E402
from bench.sweep_parts import Team, plain_sweep, run_sweep, stamp, sweep_body, team_cpu  # noqa: E402
from tests.live import LiveServer  # noqa: E402


def load():
    """Give the 1-minute load average as text (other work on the machine shifts every figure)."""
    return f"load {os.getloadavg()[0]:.2f}"


def workers_of(server, sweep):
    """Give {worker name: trials} of a finished sweep's runs (the run's worker is NAME@HOST:PID under RQ)."""
    names = [server.run(t["run_id"])["worker"].split("@", 1)[0] for t in sweep["trials"]]
    return {name: names.count(name) for name in sorted(set(names))}


def run_seconds(server, sweep):
    """Give the median seconds a trial's run took from started_at to finished_at."""
    runs = [server.run(t["run_id"]) for t in sweep["trials"]]
    return statistics.median(stamp(r["finished_at"]) - stamp(r["started_at"]) for r in runs)


def sweep_rate(args, team, count, tag, pinned):
    """Run one throughput sweep with `count` new workers and print its line; give its trials per hour.

    pinned: worker i (its work-horses too) runs on core i alone, as on a one-core machine of its own;
    else every worker may use every core. The workers are closed after the sweep (RQ refuses the name
    of a killed worker still registered in Redis, so each has a name of its own).
    """
    for name in list(team.workers):
        team.workers.pop(name).close()
    for i in range(count):
        team.worker(f"w{i}-of-{count}-{tag}", cpu=i % os.cpu_count() if pinned else None)
    team.idle()
    before = team_cpu(team)
    took, sweep, _, _ = run_sweep(team.web, sweep_body(f"bench-{count}-worker", args.trials, 2, args.epochs))
    web, workers = (b - a for a, b in zip(before, team_cpu(team)))
    rate = args.trials / took * 3600
    print(f"   {count} worker{'s' if count > 1 else ' '}  {took:6.1f} s  {rate:7.0f} trials/h   a trial's run "
          f"started -> finished: median {run_seconds(team.web, sweep):.1f} s; trials per worker "
          f"{workers_of(team.web, sweep)}\n{'':14}CPU: workers {workers:.1f} s ({workers / args.trials:.1f} s a trial), "
          f"web {web:.1f} s; {(web + workers) / took / os.cpu_count():.0%} of the cores; {load()}", flush=True)
    return rate


def throughput(args, team):
    """Print trials per hour of one sweep with one RQ worker and with two, beside plain Optuna + Keras."""
    print(f"\n== trials per hour: a sweep of {args.trials} trials, parallel 2, random sampler, no pruner, the digits MLP "
          f"(Dense units 16..128, Adam lr 1e-4..1e-1), {args.epochs} epochs;\n   POST /api/sweeps -> status completed, "
          f"under `make run`'s gunicorn with KD_EXECUTOR=rq, `flask --app wsgi worker` per worker; CPU s from /proc\n"
          f"   (the workers' with their work-horses'), and the share of the machine's {os.cpu_count()} cores they used",
          flush=True)
    ratios = {}
    for pinned in (True, False):
        print("   - each worker on one core of its own (taskset), as workers on one-core machines of their own:" if pinned
              else "   - every worker on every core (a worker's next work-horse warms beside its run on the other core):")
        for n in range(args.repeat):
            figures = {count: sweep_rate(args, team, count, f"{'p' if pinned else 'a'}{n}", pinned) for count in (1, 2)}
            ratios.setdefault(pinned, []).append(figures[2] / figures[1])
    team.idle()
    plain, t_launch = plain_sweep(args, args.trials, args.epochs)
    whole, trials_only = plain["end"] - t_launch, plain["end"] - plain["imported_at"]
    per_trial = statistics.median(t["end"] - t["start"] for t in plain["trials"])
    print(f"   baseline: plain Optuna + Keras in one process (study.optimize), launch -> last trial {whole:.1f} s: "
          f"{args.trials / whole * 3600:.0f} trials/h\n"
          f"             ({trials_only:.1f} s after TensorFlow's import: {args.trials / trials_only * 3600:.0f} trials/h; "
          f"a trial median {per_trial:.1f} s; {load()})")
    for pinned, found in ratios.items():
        ratio = statistics.median(found)
        print(f"   two workers / one, {'a core each' if pinned else 'sharing the cores'}: {ratio:.2f}x"
              f"{' median of ' + ', '.join(f'{r:.2f}' for r in found) if len(found) > 1 else ''}"
              + (f"   (goal >= 1.8x: {met(ratio >= 1.8)})" if pinned else "   (one worker already keeps both cores busy)"))


def met(ok):
    """Give "met" or "NOT met"."""
    return "met" if ok else "NOT met"


def gaps(server, args, label, epochs):
    """Print the gap from each trial's end to the next trial's first batch in a parallel-1 sweep on `server`."""
    wait_idle(server)
    _, sweep, t_post, watcher = run_sweep(server, sweep_body(f"bench-gap-{epochs}", args.gap_trials, 1, epochs), runs=True)
    runs = [server.run(t["run_id"]) for t in sorted(sweep["trials"], key=lambda t: t["number"])]
    first = watcher.first_batch(runs[0]["id"])[0] - t_post
    print(f"   {label}, {epochs} epochs: POST /api/sweeps -> trial 0's first batch {first:.2f} s ({load()})")
    print(f"   {'trials':<8}{'gap':>7}   where: {'scheduler':>9}{'dispatch':>9}{'start-up':>9}{'delivery':>9}"
          f"   previous trial's run")
    found = []
    for prev, nxt in zip(runs, runs[1:]):
        at, sent, late = watcher.first_batch(nxt["id"])
        found.append(at - (watcher.ended(prev["id"]) or stamp(prev["finished_at"])))
        parts = (stamp(nxt["created_at"]) - stamp(prev["finished_at"]), stamp(nxt["started_at"]) - stamp(nxt["created_at"]),
                 sent - stamp(nxt["started_at"]), at - sent)
        print(f"   {prev['sweep']['trial']} -> {nxt['sweep']['trial']}  {found[-1]:7.2f}          "
              + "".join(f"{p:9.2f}" for p in parts) + f"{stamp(prev['finished_at']) - stamp(prev['started_at']):9.1f} s"
              + ("   (subscribed after the first batch: its sent_at)" if late else ""))
    print(f"   {label}, {epochs} epochs: trial end -> next trial's first batch, median {statistics.median(found):.2f} s, "
          f"max {max(found):.2f} s   (goal <= 1.5 s: {met(statistics.median(found) <= 1.5)})", flush=True)
    return found


def gap(args, tmp, team, local=True):
    """Print the gap between trials under the embedded executor (make run, warm spare) and RQ, beside plain Optuna."""
    lengths = [int(e) for e in args.gap_epochs.split(",")]
    print(f"\n== trial end -> next trial's first batch: sweeps of {args.gap_trials} trials, parallel 1, of "
          f"{' and of '.join(map(str, lengths))} epochs;"
          f"\n   the end is the previous run's final run_status at a Socket.IO client, the first batch the next run's first"
          f"\n   run_batch there. where (from the runs' times): scheduler = previous finished_at -> next created_at,"
          f"\n   dispatch = created_at -> started_at (marked running), start-up = started_at -> first batch's sent_at,"
          f"\n   delivery = sent_at -> at the client; previous trial's run = its started_at -> finished_at", flush=True)
    if local:
        server = LiveServer(tmp / "embedded", production=True, log_path=tmp / "embedded.log").start().sign_in()
        try:
            warm_web(server)
            for epochs in lengths:
                gaps(server, args, "embedded (make run, KD_WARM_SPARE=1)", epochs)
        finally:
            server.close()
    if team:
        for epochs in lengths:
            team.idle()
            gaps(team.web, args, f"RQ, {len(team.workers)} worker(s)", epochs)
    for epochs in lengths:
        plain, _ = plain_sweep(args, args.gap_trials, epochs)
        found = [b["first_batch"] - a["end"] for a, b in zip(plain["trials"], plain["trials"][1:])]
        print(f"   baseline, {epochs} epochs: plain Optuna + Keras, objective returned -> next trial's first batch, median "
              f"{statistics.median(found):.2f} s, max {max(found):.2f} s ({load()})")


def main():
    """Start the parts and print the figures asked for."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=8, help="trials of the throughput sweeps")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1, help="rounds of one worker then two")
    parser.add_argument("--gap-trials", type=int, default=6, help="trials of the parallel-1 sweeps")
    parser.add_argument("--only", default="throughput,gap", help="throughput, gap, or both")
    parser.add_argument("--gap-epochs", default="3,30", help="epochs of the parallel-1 sweeps' trials (a list)")
    parser.add_argument("--gap-executors", default="local,rq", help="where the gap is measured: local, rq, or both")
    args = parser.parse_args()
    parts, executors = set(args.only.split(",")), set(args.gap_executors.split(","))
    print(f"bench/sweeps.py on {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    with tempfile.TemporaryDirectory(prefix="kd-bench-sweeps-") as tmp:
        tmp, team = Path(tmp), None
        try:
            if "throughput" in parts or "rq" in executors and "gap" in parts:
                team = Team(tmp)
                warm_web(team.web)
            if "throughput" in parts:
                throughput(args, team)
            if team and "gap" in parts:
                for name in list(team.workers):
                    team.workers.pop(name).close()
                team.worker("gap")
            if "gap" in parts:
                gap(args, tmp, team if "rq" in executors else None, "local" in executors)
        finally:
            if team:
                team.close()
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end (other work on the machine shifts every figure)")


if __name__ == "__main__":
    main()
