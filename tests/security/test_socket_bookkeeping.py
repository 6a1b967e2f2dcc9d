"""A client's own events never reach the server's connect/disconnect bookkeeping of who is behind a socket."""

from tests.security.conftest import a_run, socket, user
from tests.conftest import signed_in


def test_a_share_socket_sending_disconnect_is_still_closed_when_the_link_is_revoked(app):
    owner = signed_in(app, "bob", "member")
    run_id = a_run(app, "bob")
    token = owner.post(f"/api/runs/{run_id}/shares").get_json()["share"]["token"]
    viewer = socket(app, share=token)
    viewer.emit("disconnect", namespace="/runs")          # an ordinary event that only looks reserved
    assert viewer.is_connected("/runs")
    assert owner.delete(f"/api/runs/{run_id}/shares/{token}").status_code == 204
    assert not viewer.is_connected("/runs")


def test_a_client_event_named_connect_does_not_change_who_is_behind_a_socket(app):
    user(app, "bob")
    run_id, other = a_run(app, "bob"), a_run(app, "bob")
    owner = signed_in(app, "bob", "member")
    token = owner.post(f"/api/runs/{run_id}/shares").get_json()["share"]["token"]
    viewer = socket(app, share=token)
    # Flask-SocketIO hands a "connect" event's second argument to the handler as its auth.
    viewer.emit("connect", None, {"token": owner.token}, namespace="/runs")
    answer = viewer.emit("subscribe", {"run_id": other}, namespace="/runs", callback=True)
    assert answer["ok"] is False
