"""`make run` serves with the production server (gunicorn), prints where to go and nothing alarming."""

import re

import requests

from tests.live import LiveServer, make_run_command

# What a newcomer must not meet on the first start: Werkzeug's "do not use in production", a
# warning of gunicorn's about its settings, TensorFlow's start-up noise on a CPU machine, a traceback.
ALARMING = re.compile(r"WARNING|development server|Werkzeug|cuInit|E0000|Traceback|Error", re.IGNORECASE)


def test_make_run_serves_gunicorn_and_prints_the_address_and_the_setup_link_only(tmp_path):
    assert make_run_command()[1:] == ["-m", "gunicorn", "-c", "python:webapp.web.server", "wsgi:app"]
    server = LiveServer(tmp_path / "data", env={"KD_WARM_SPARE": "1"}, production=True)
    try:
        server.start()
        assert requests.get(f"{server}/healthz", timeout=5).status_code == 200
        login = requests.get(f"{server}/login", timeout=5)
        assert login.status_code == 200 and 'id="login-name"' in login.text
        output = "\n".join(server.lines())
        assert f"Keras dashboard: http://127.0.0.1:{server.port}/" in output
        link = re.search(rf"create the first admin at (http://127\.0\.0\.1:{server.port}/setup\?token=\S+)", output)
        assert link and requests.get(link.group(1), timeout=5).status_code == 200
        assert "Using worker: gthread" in output
        assert server.stop() == 0
        assert not ALARMING.search("\n".join(server.lines())), server.output()
    finally:
        server.close()
