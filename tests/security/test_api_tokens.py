"""API tokens end: each has an expiry (90 days unless asked otherwise), and an admin can list and
revoke them, from the CLI and from the admin page's API; a revoked or expired token is 401."""

from datetime import timedelta

from tests.conftest import signed_in
from tests.security.conftest import user
from webapp.team import accounts
from webapp.db.store import ApiToken, utcnow


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_a_token_past_its_expiry_is_refused(app):
    script = signed_in(app, "bob", "member")
    assert script.get("/api/me").status_code == 200
    with app.extensions["kd"].store.session() as s:
        for row in s.query(ApiToken):
            row.expires_at = utcnow() - timedelta(seconds=1)
    assert script.get("/api/me").status_code == 401


def test_the_cli_makes_expiring_tokens_lists_and_revokes_them(app):
    runner = app.test_cli_runner()
    user(app, "carol", "viewer")
    token = runner.invoke(args=["users", "token", "carol", "--days", "7", "--label", "nightly"]).output.strip()
    forever = runner.invoke(args=["users", "token", "carol", "--days", "0"]).output.strip()
    client = app.test_client()
    assert client.get("/api/me", headers=bearer(token)).status_code == 200
    listing = runner.invoke(args=["users", "tokens", "carol"])
    assert listing.exit_code == 0
    rows = [line for line in listing.output.splitlines() if "nightly" in line]
    assert len(rows) == 1 and (utcnow() + timedelta(days=7)).date().isoformat() in rows[0]
    assert "never" in listing.output and token not in listing.output      # only hashes are kept
    token_id = rows[0].split()[0]
    revoked = runner.invoke(args=["users", "revoke", token_id])
    assert revoked.exit_code == 0 and "Revoked" in revoked.output
    assert client.get("/api/me", headers=bearer(token)).status_code == 401
    assert client.get("/api/me", headers=bearer(forever)).status_code == 200
    assert runner.invoke(args=["users", "revoke", token_id]).exit_code != 0


def test_tokens_expire_after_90_days_unless_asked_otherwise(app):
    carol = user(app, "carol", "viewer")
    accounts.new_api_token(app.extensions["kd"].store, carol.id)
    (row,) = accounts.list_tokens(app.extensions["kd"].store, carol.id)
    assert row["expires_at"][:10] == (utcnow() + timedelta(days=90)).date().isoformat()


def test_an_admin_lists_and_revokes_tokens_over_the_api(app):
    admin = signed_in(app, "ada", "admin")
    script = signed_in(app, "bob", "member")
    tokens = admin.get("/api/tokens").get_json()["tokens"]
    mine = [t for t in tokens if t["user"] == "bob"]
    assert len(mine) == 1 and set(mine[0]) == {"id", "user", "label", "created_at", "last_used_at", "expires_at"}
    assert script.get("/api/tokens").status_code == 403
    assert admin.delete(f"/api/tokens/{mine[0]['id']}").status_code == 204
    assert script.get("/api/me").status_code == 401
    assert admin.delete(f"/api/tokens/{mine[0]['id']}").status_code == 404


def test_a_tokens_last_use_is_written_at_most_once_a_minute(app):
    carol = user(app, "carol", "viewer")
    store = app.extensions["kd"].store
    token = accounts.new_api_token(store, carol.id)

    def last_used():
        (row,) = accounts.list_tokens(store, carol.id)
        return row["last_used_at"]

    assert last_used() is None
    assert app.test_client().get("/api/me", headers=bearer(token)).status_code == 200
    first = last_used()
    assert first is not None
    assert app.test_client().get("/api/me", headers=bearer(token)).status_code == 200
    assert last_used() == first                    # a second call within the minute writes nothing
    with store.session() as s:
        for row in s.query(ApiToken):
            row.last_used_at = utcnow() - accounts.LAST_USED_EVERY
    assert app.test_client().get("/api/me", headers=bearer(token)).status_code == 200
    assert last_used() > first
