"""Security headers on every response, the reverse-proxy fix, and production's own checks.

Content-Security-Policy, as sent (one line; `<nonce>` is new for every response):

    default-src 'self'; script-src 'self' 'nonce-<nonce>'; style-src 'self' 'unsafe-inline';
    style-src-elem 'self' 'nonce-<nonce>'; img-src 'self' data:; font-src 'self';
    connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none';
    form-action 'self' https://checkout.stripe.com

- Scripts: only files from this site, or an inline `<script nonce="{{ csp_nonce() }}">`.
  There is no 'unsafe-inline' for scripts, so injected markup cannot run code.
- Styles: a few templates size bars and indent trees with `style="..."` attributes, which cannot
  carry a nonce. `style-src` therefore keeps 'unsafe-inline' (the attributes fall back to it);
  `style-src-elem` limits `<style>` elements and style sheets to this site or the nonce, in the
  browsers that know it (CSP 3). What remains allowed, inline style attributes, can change how
  a page looks but cannot run code or send data anywhere (img-src, font-src and connect-src stay
  on this site).
- Forms: the card rail's form posts here and is answered with a 303 to Stripe Checkout.
  Chromium applies form-action to the redirects that follow a form submission, so Checkout's
  origin is listed (config CSP_FORM_ACTION_SOURCES; a test server's origin in tests).
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

#: a year; sent only over HTTPS, never with `preload` (a deployment decides that itself)
HSTS_VALUE = "max-age=31536000; includeSubDomains"
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
)
STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
}
MIN_SECRET_KEY_LENGTH = 32


def csp_nonce() -> str:
    """This response's script nonce, for `<script nonce="{{ csp_nonce() }}">`."""
    # In the WSGI environ rather than `g`, which an app context can share between requests.
    environ = request.environ
    if "eorder.csp_nonce" not in environ:
        environ["eorder.csp_nonce"] = secrets.token_urlsafe(18)
    return str(environ["eorder.csp_nonce"])


def content_security_policy(nonce: str) -> str:
    form_action = " ".join(["'self'", *current_app.config.get("CSP_FORM_ACTION_SOURCES", ())])
    directives = {
        "default-src": "'self'",
        "script-src": f"'self' 'nonce-{nonce}'",
        # No nonce here: a nonce would make browsers ignore 'unsafe-inline' for attributes too.
        "style-src": "'self' 'unsafe-inline'",
        "style-src-elem": f"'self' 'nonce-{nonce}'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "frame-ancestors": "'none'",
        "form-action": form_action,
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _add_security_headers(response: Response) -> Response:
    # setdefault: a view that needs a stricter header (a sandboxed download) keeps its own.
    response.headers.setdefault("Content-Security-Policy", content_security_policy(csp_nonce()))
    for name, value in STATIC_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:  # behind a proxy, only true when ProxyFix trusts its X-Forwarded-Proto
        response.headers.setdefault("Strict-Transport-Security", HSTS_VALUE)
    return response


def refuse_unsafe_production_settings(app: Flask) -> None:
    """What create_app does not check already: a guessable key, cookies sent over plain HTTP."""
    if app.config.get("ENV_NAME") != "production":
        return
    if len(app.config.get("SECRET_KEY") or "") < MIN_SECRET_KEY_LENGTH:
        raise RuntimeError(
            f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters in production "
            '(python -c "import secrets; print(secrets.token_urlsafe(48))").'
        )
    if app.debug or app.config.get("DEBUG"):
        raise RuntimeError("Debug mode must be off in production.")
    for name in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        if not app.config.get(name):
            raise RuntimeError(f"{name} must be on in production.")


def install(app: Flask) -> None:
    """Headers, proxy fix, request logs and health checks: called once by create_app."""
    from marketplace import health, logging_setup

    refuse_unsafe_production_settings(app)
    hops = int(app.config.get("PROXY_FIX_HOPS") or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    logging_setup.install(app)
    app.after_request(_add_security_headers)
    app.register_blueprint(health.bp)
