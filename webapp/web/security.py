"""Security headers on every answer (a Content-Security-Policy with no inline script), what a
trusted proxy says about the client, and bounds on what a request may carry (ids, JSON depth)."""

from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, ValidationError

from ..modelspec.numbers import MAX_ID, whole


class DatabaseId(IntegerConverter):
    """`<int:...>` in every route: ASCII digits of a whole number the database can hold, else no route (404).

    Werkzeug's own matches any Unicode digit (`\\d`, so `/runs/١` was run 1) and asks int() to read it.
    """

    regex = r"[0-9]+"

    def __init__(self, url_map, fixed_digits=0, min=0, max=MAX_ID, signed=False):
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)

    def to_python(self, value):
        """Give the id, or refuse the route (ValidationError: no such page)."""
        found = whole(value, self.min, self.max)
        if found is None:
            raise ValidationError()
        return found


class BoundedJSON(DefaultJSONProvider):
    """Flask's JSON, but a body nested past Python's recursion limit is a 400 saying so, not a 500."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise BadRequest("The JSON body is nested too deeply; a run spec needs a few levels, not hundreds.") from None


def init_url_map(app):
    """Bound every route's `<int:...>` ids; call it before any blueprint is registered."""
    app.url_map.converters["int"] = DatabaseId

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; "
       "base-uri 'self'; frame-ancestors 'none'; form-action 'self'")


def init_app(app):
    """Add the headers to every response; believe KD_TRUSTED_PROXIES proxies' X-Forwarded-For/-Proto."""
    app.json = BoundedJSON(app)
    proxies = app.config.get("KD_TRUSTED_PROXIES", 0)
    if proxies:
        # Only the headers the documented nginx sets itself: a client could send any other.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=0, x_port=0, x_prefix=0)

    @app.after_request
    def headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response
