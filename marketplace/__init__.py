"""e-Order: the marketplace through which government units buy catering from local SMEs."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from marketplace import db, http_security, i18n, search
from marketplace.config import DEFAULT_SECRET_KEY, PROJECT_ROOT, config_for_environment
from marketplace.errors import DomainError, register_database_outage_handler
from marketplace.extensions import babel, csrf, limiter, login_manager


def create_app(config: dict[str, Any] | type | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=str(PROJECT_ROOT / "instance"),
    )
    if isinstance(config, type):
        app.config.from_object(config)
    else:
        app.config.from_object(config_for_environment())
        if config:
            app.config.from_mapping(config)
    _refuse_unsafe_production_config(app)
    http_security.install(app)  # headers, proxy fix, request logs, /healthz and /readyz

    db.init_app(app)
    search.install(app, app.extensions["db_sessionmaker"])
    i18n.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    csrf.init_app(app)
    limiter.init_app(app)
    _init_login(app)
    _register_blueprints(app)
    _register_error_handlers(app)
    _register_template_helpers(app)

    from marketplace.cli import register_cli

    register_cli(app)
    return app


def _refuse_unsafe_production_config(app: Flask) -> None:
    if app.config.get("ENV_NAME") != "production":
        return
    if app.config["SECRET_KEY"] in ("", DEFAULT_SECRET_KEY):
        raise RuntimeError("Set SECRET_KEY in the environment before running in production.")
    if app.debug:
        raise RuntimeError("Debug mode must be off in production.")


def _init_login(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from marketplace.accounts.recent_users import CACHED_ENDPOINTS, WRITE_MARK, RecentUsers
    from marketplace.accounts.services import load_user

    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    seconds = float(app.config.get("USER_CACHE_SECONDS", 0) or 0)
    app.extensions["recent_users"] = RecentUsers(seconds) if seconds > 0 else None

    @login_manager.user_loader
    def _load(user_key: str):  # type: ignore[no-untyped-def]
        from flask import current_app, g, request, session

        # (The login manager is shared by every app of the process: this app's own cache.)
        recent = current_app.extensions["recent_users"]
        # A page view shows the unread count in its header: read it with the user. Other
        # requests may change notifications before they render, so they count afresh.
        count_unread = request.method in ("GET", "HEAD")
        cache = recent if count_unread and request.endpoint in CACHED_ENDPOINTS else None
        key = (user_key, session.get(WRITE_MARK))
        user = cache.get(key) if cache is not None else None
        if user is None:
            user = load_user(db.get_session(), user_key, count_unread=count_unread)
            if user is not None and cache is not None:
                cache.put(key, user)
        if user is not None and count_unread:
            g.unread_notifications = user.unread_notifications_at_load
        return user

    @app.after_request
    def _mark_writes(response):  # type: ignore[no-untyped-def]
        # See recent_users: the person's next catalogue view reads them afresh. After the
        # request, so that a browser signed in by its remember-me cookie is marked too; random,
        # so that the person's other sessions never step onto the same key.
        import secrets

        from flask import request, session

        if request.method not in ("GET", "HEAD", "OPTIONS") and "_user_id" in session:
            session[WRITE_MARK] = secrets.token_urlsafe(6)
        return response


def _register_blueprints(app: Flask) -> None:
    import marketplace.accounts.security_views  # noqa: F401 (routes on the accounts blueprint)
    from marketplace.accounts.views import bp as accounts_bp
    from marketplace.admin.views import bp as admin_bp
    from marketplace.api.account_views import bp as api_tokens_bp
    from marketplace.api.views import bp as api_bp
    from marketplace.audit.views import bp as audit_bp
    from marketplace.budgets.views import bp as budgets_bp
    from marketplace.delivery.views import bp as delivery_bp
    from marketplace.documents.views import bp as documents_bp
    from marketplace.finance.views import bp as finance_bp
    from marketplace.main import bp as main_bp
    from marketplace.media import bp as media_bp
    from marketplace.notifications.views import bp as notifications_bp
    from marketplace.opendata.views import bp as opendata_bp
    from marketplace.ordering.views import bp as ordering_bp
    from marketplace.payments.card_views import bp as card_payments_bp
    from marketplace.payments.views import bp as payments_bp
    from marketplace.ratings.views import bp as ratings_bp
    from marketplace.shop.views import bp as shop_bp
    from marketplace.taxes.views import bp as taxes_bp
    from marketplace.vendor.views import bp as vendor_bp

    for blueprint in (
        main_bp,
        accounts_bp,
        shop_bp,
        ordering_bp,
        delivery_bp,
        documents_bp,
        payments_bp,
        card_payments_bp,
        finance_bp,
        ratings_bp,
        taxes_bp,
        vendor_bp,
        budgets_bp,
        admin_bp,
        audit_bp,
        media_bp,
        notifications_bp,
        opendata_bp,
        api_bp,
        api_tokens_bp,
    ):
        app.register_blueprint(blueprint)


def _register_error_handlers(app: Flask) -> None:
    def page(code: int, message: object):  # type: ignore[no-untyped-def]
        return render_template("errors/error.html", code=code, message=message), code

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError):  # type: ignore[no-untyped-def]
        db.get_session().rollback()
        return page(error.status_code, error.message)

    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError):  # type: ignore[no-untyped-def]
        from flask_babel import gettext as _

        return page(
            400, _("The form expired or was sent from elsewhere. Go back, reload and try again.")
        )

    register_database_outage_handler(app)  # 503 with Retry-After when the connection drops

    for code in (400, 403, 404, 405, 409, 413, 500):

        @app.errorhandler(code)
        def _http_error(error, code=code):  # type: ignore[no-untyped-def]
            return page(code, None)


#: menus kept per process: one per (language, set of roles) seen, so few
MENUS_KEPT = 256


def _register_template_helpers(app: Flask) -> None:
    from flask import request
    from flask_babel import get_locale
    from flask_login import current_user
    from markupsafe import Markup

    from marketplace import permissions
    from marketplace.layouts import return_path, unread_in_header

    app.jinja_env.globals["can"] = permissions
    menus: dict[tuple[str, str, frozenset[str]], Markup] = {}

    @app.template_global()
    def main_nav() -> Markup:
        """The signed-in person's menu, which shows what their roles allow: rendered once per
        language and set of roles, as every page needs it."""
        key = (str(get_locale()), request.script_root, frozenset(current_user.all_roles))
        menu = menus.get(key)
        if menu is None:
            # The template escapes what it inserts, so its output is HTML to be kept as it is.
            menu = Markup(render_template("_partials/_main_nav.html"))  # noqa: S704
            if len(menus) >= MENUS_KEPT:
                menus.clear()
            menus[key] = menu
        return menu

    app.jinja_env.globals["return_path"] = return_path

    @app.context_processor
    def _unread_notifications() -> dict[str, object]:
        return {"unread_notifications": unread_in_header}
