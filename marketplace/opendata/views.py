"""The public open-data pages: an explanation, and the OCDS release package feed. No login."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request, url_for
from flask_babel import gettext as _

from marketplace.db import get_session
from marketplace.opendata import ocds, queries

bp = Blueprint("opendata", __name__)

DEFAULT_PREFIX = "ocds-eorder"
DEFAULT_PUBLISHER = "e-Order"
DEFAULT_LICENSE = "https://creativecommons.org/licenses/by/4.0/"
#: seconds a shared cache (a CDN, a harvester's proxy) may keep a page of the feed
MAX_AGE = 300

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PAGE = re.compile(r"[1-9]\d{0,5}")
_PARAMETERS = ("since", "until", "page")


class BadParameter(ValueError):
    pass


def _settings() -> dict[str, Any]:
    config = current_app.config
    return {
        # A real deployment registers its own ocid prefix with the OCDS Data Support team.
        "prefix": config.get("OCDS_PREFIX", DEFAULT_PREFIX),
        "publisher": config.get("OCDS_PUBLISHER_NAME", DEFAULT_PUBLISHER),
        # The licence is the publisher's choice; CC BY 4.0 is a common one for open data.
        "license": config.get("OCDS_LICENSE", DEFAULT_LICENSE),
        "page_size": int(config.get("OCDS_PAGE_SIZE", queries.PAGE_SIZE)),
    }


@bp.get("/open-data/")
def index():  # type: ignore[no-untyped-def]
    settings = _settings()
    return render_template(
        "opendata/index.html",
        feed_url=url_for("opendata.releases", _external=True),
        license_url=settings["license"],
        publisher=settings["publisher"],
        prefix=settings["prefix"],
        page_size=settings["page_size"],
    )


def _one(name: str) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:
        raise BadParameter(_("Give %(name)s only once.", name=name))
    return values[0] if values else None


def _day(name: str) -> date | None:
    raw = _one(name)
    if raw is None:
        return None
    try:
        if not _DATE.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise BadParameter(
            _("%(name)s must be a date written YYYY-MM-DD, such as 2026-03-31.", name=name)
        ) from None


def _parse_arguments() -> tuple[date | None, date | None, int]:
    unknown = sorted(set(request.args) - set(_PARAMETERS))
    if unknown:
        raise BadParameter(
            _("Unknown parameter %(name)s: use since, until and page.", name=unknown[0])
        )
    since, until = _day("since"), _day("until")
    if since is not None and until is not None and since > until:
        raise BadParameter(_("since must not be after until."))
    raw_page = _one("page")
    if raw_page is not None and not _PAGE.fullmatch(raw_page):
        raise BadParameter(_("page must be a whole number from 1."))
    return since, until, int(raw_page or 1)


def _problem(status: int, title: str, detail: str) -> Response:
    """An RFC 9457 problem; errors are not cached by shared caches."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    response = Response(
        json.dumps(body, ensure_ascii=False), status=status, mimetype="application/problem+json"
    )
    response.cache_control.no_store = True
    return response


def _page_url(since: date | None, until: date | None, page: int) -> str:
    arguments: dict[str, Any] = {}
    if since is not None:
        arguments["since"] = since.isoformat()
    if until is not None:
        arguments["until"] = until.isoformat()
    if page != 1:
        arguments["page"] = page
    return url_for("opendata.releases", _external=True, **arguments)


@bp.get("/open-data/ocds/releases.json")
def releases():  # type: ignore[no-untyped-def]
    try:
        since, until, page_number = _parse_arguments()
    except BadParameter as error:
        return _problem(400, _("Invalid query parameter"), str(error))
    settings = _settings()
    page = queries.completed_orders_page(
        get_session(), since=since, until=until, page=page_number, page_size=settings["page_size"]
    )
    if not page.items:
        # A release package holds at least one release, so an empty page is not a package.
        return _problem(
            404,
            _("No releases"),
            _("No completed order changed in this period, or the page is past the last one."),
        )
    package = ocds.build_package(
        [ocds.build_release(item, settings["prefix"]) for item in page.items],
        uri=_page_url(since, until, page_number),
        published_date=max(item.release_date for item in page.items),
        publisher_name=settings["publisher"],
        license_url=settings["license"],
        publication_policy=url_for("opendata.index", _external=True),
    )
    response = Response(
        json.dumps(package, ensure_ascii=False, separators=(",", ":")),
        mimetype="application/json",
    )
    # OCDS 1.1 release packages have no `links` field: pagination goes in RFC 8288 headers.
    links = []
    if page.has_next:
        links.append(f'<{_page_url(since, until, page_number + 1)}>; rel="next"')
    if page_number > 1:
        links.append(f'<{_page_url(since, until, page_number - 1)}>; rel="prev"')
    if links:
        response.headers["Link"] = ", ".join(links)
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE
    response.add_etag()
    return response.make_conditional(request)
