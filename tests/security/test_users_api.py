"""The users API keeps its documented promises: an account made over the API has a password."""

from tests.conftest import signed_in


def test_creating_a_user_without_a_password_is_400_naming_it(client):
    answer = client.post("/api/users", json={"name": "carol", "role": "viewer"})
    assert answer.status_code == 400
    assert "password" in answer.get_json()["error"]["message"]
    assert [u["name"] for u in client.get("/api/users").get_json()["users"]] == ["admin"]


def test_creating_a_user_with_a_password_is_201(app):
    admin = signed_in(app, "ada", "admin")
    answer = admin.post("/api/users", json={"name": "carol", "role": "viewer", "password": "carol-password"})
    assert answer.status_code == 201 and answer.get_json()["user"]["role"] == "viewer"
