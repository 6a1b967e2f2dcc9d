"""The Content-Security-Policy lets pages connect only to their own origin: no websocket to any
other host (CSP3 counts ws:/wss: to the page's own host as 'self'; the run pages' browser tests
hold that Socket.IO still connects)."""


def csp_directives(answer):
    """Give the page's CSP as {directive: [sources]}."""
    parts = (p.split() for p in answer.headers["Content-Security-Policy"].split(";") if p.strip())
    return {p[0]: p[1:] for p in parts}


def test_pages_may_connect_only_to_their_own_origin(client):
    for url in ("/", "/runs", "/login", "/api/me"):
        policy = csp_directives(client.get(url))
        assert policy["connect-src"] == ["'self'"], url
        assert policy["script-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
