"""The one-time setup link makes one admin, even when it is posted many times at once."""

import threading

from tests.security.conftest import csrf_of
from webapp.team import accounts
from webapp.web.auth import setup_link


def test_six_simultaneous_posts_of_the_setup_link_make_one_admin(app):
    link = setup_link(app)
    token = link.split("=", 1)[1]
    browsers = [app.test_client() for _ in range(6)]
    forms = [{"token": token, "name": f"root{i}", "password": "root-password",
              "csrf_token": csrf_of(b.get(link).get_data(as_text=True))} for i, b in enumerate(browsers)]
    start, answers = threading.Barrier(len(browsers)), [None] * len(browsers)

    def post(i):
        start.wait()
        answers[i] = browsers[i].post("/setup", data=forms[i]).status_code

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(browsers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [302] + [404] * 5
    assert accounts.count_users(app.extensions["kd"].store) == 1
