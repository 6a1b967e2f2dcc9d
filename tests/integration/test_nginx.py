"""docs/deploy.md's nginx site, for real: two gunicorn instances behind it, viewers through it.

The site is taken from the docs as written (only the ports change), so the docs cannot drift from
what works: websockets need its Upgrade headers, long-polling needs its sticky sessions (ip_hash),
and the Socket.IO server accepts the browser's origin only when Host is passed on.
"""

import os
import re
import subprocess

import pytest

from tests.conftest import require_program
from tests.deployment import GunicornServer, Process, RedisServer, db_upgrade
from tests.live import ROOT, Viewer, free_port, wait_until
from tests.specs import MLP, spec

DOCS = ROOT / "docs" / "deploy.md"


def site_from_docs(port, upstreams):
    """Give the docs' nginx site, listening on `port`, with the upstream servers replaced."""
    site = re.search(r"```nginx\n(.*?)```", DOCS.read_text(), re.S).group(1)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    docs_servers = re.findall(r"server (127\.0\.0\.1:\d+);", site)
    assert len(docs_servers) == len(upstreams), docs_servers
    for old, new in zip(docs_servers, upstreams):
        site = site.replace(f"server {old};", f"server {new};")
    return site


def nginx_conf(tmp_path, site):
    """Write a main nginx.conf that keeps everything in tmp_path and includes the site; give its path."""
    (tmp_path / "site.conf").write_text(site)
    temp = "".join(f"    {kind}_temp_path {tmp_path / kind};\n" for kind in ("client_body", "proxy", "fastcgi",
                                                                               "uwsgi", "scgi"))
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes 1;\npid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\n"
        + "events { worker_connections 1024; }\n"
        + f"http {{\n    access_log {tmp_path / 'access.log'};\n{temp}    include {tmp_path / 'site.conf'};\n}}\n")
    return conf


@pytest.fixture
def deployment(tmp_path):
    """Give (nginx URL, instance A, instance B): two gunicorn instances on one Redis behind nginx."""
    nginx = require_program("nginx")
    require_program("redis-server")
    parts = [RedisServer(tmp_path / "redis.log")]
    env = {**os.environ, "KD_EXECUTOR": "rq", "KD_REDIS_URL": parts[0].url, "KD_DATA_DIR": str(tmp_path / "data")}
    (tmp_path / "data").mkdir()
    db_upgrade(env)
    try:
        for name in ("a", "b"):
            parts.append(GunicornServer(tmp_path / "data", env=env, log_path=tmp_path / f"web-{name}.log").start())
        parts[2].use_token(parts[1].sign_in().token)
        port = free_port()
        conf = nginx_conf(tmp_path, site_from_docs(port, [f"127.0.0.1:{p.port}" for p in parts[1:]]))
        checked = subprocess.run([nginx, "-t", "-c", conf], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        proxy = Process([nginx, "-c", conf, "-g", "daemon off;"], dict(os.environ), tmp_path / "nginx.log")
        parts.append(proxy)
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _healthy(url), 30, f"nginx answering{proxy.output()}")
        yield url, parts[1], parts[2]
    finally:
        for part in reversed(parts):
            part.close()


def _healthy(url):
    import requests

    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_viewers_through_nginx_see_a_run_started_and_stopped_on_either_instance(deployment):
    import requests

    url, a, b = deployment
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {a.token}"
    with Viewer(url, "websocket", a.auth) as ws, Viewer(url, "polling", a.auth) as polling:
        # No worker: the run waits queued, and its stop is an event of the web instances alone.
        run = http.post(f"{url}/api/runs", json=spec(MLP, name="via nginx"), timeout=60)
        assert run.status_code == 201, run.text
        run_id = run.json()["run"]["id"]
        for viewer in (ws, polling):
            assert viewer.subscribe(run_id)["ok"]
        for instance in (a, b):   # whichever instance nginx pinned the viewers to, the other one speaks too
            assert instance.run(run_id)["status"] == "queued"
        b.post(f"/api/runs/{run_id}/stop", expect=202)
        for viewer in (ws, polling):
            events = viewer.wait(lambda v: any(d["status"] == "stopped" for d in v.named("run_status")), timeout=30,
                                 what="run_status stopped through nginx")
            assert [n for n, d, _ in events][0] == "run_history"
        assert ws.sio.transport() == "websocket" and polling.sio.transport() == "polling"
    listed = http.get(f"{url}/api/runs", timeout=30).json()["runs"]
    assert [(r["id"], r["status"]) for r in listed] == [(run_id, "stopped")]
