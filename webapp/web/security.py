"""Security headers on every answer (a Content-Security-Policy with no inline script), and what a
trusted proxy says about the client."""

from werkzeug.middleware.proxy_fix import ProxyFix

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; connect-src 'self' ws: wss:; object-src 'none'; "
       "base-uri 'self'; frame-ancestors 'none'; form-action 'self'")


def init_app(app):
    """Add the headers to every response; believe KD_TRUSTED_PROXIES proxies' X-Forwarded-For/-Proto."""
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
