"""The auditor's pages: search the audit trail, export what was found, check the hash chain."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, render_template, request, stream_with_context
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from marketplace.accounts.models import Agency
from marketplace.audit import chain, queries
from marketplace.audit.labels import action_label
from marketplace.audit.models import AuditEvent
from marketplace.db import get_session
from marketplace.web import permission_required, today_in_jakarta

bp = Blueprint("audit", __name__, url_prefix="/audit")

#: "Verify now" checks this many of the latest events; `flask audit verify` checks them all
VERIFY_LATEST = 10_000


def _filter_from_request() -> tuple[queries.EventFilter, list[str]]:
    """The search in the query string, and what in it could not be understood."""
    problems: list[str] = []
    args = request.args

    def day(name: str, label: str) -> date | None:
        text = args.get(name, "").strip()
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            problems.append(_("%(field)s is not a date (YYYY-MM-DD).", field=label))
            return None

    def number(name: str, label: str) -> int | None:
        text = args.get(name, "").strip()
        if not text:
            return None
        if not text.isdigit() or len(text) > 12:
            problems.append(_("%(field)s is not a number.", field=label))
            return None
        return int(text)

    wanted = queries.EventFilter(
        order=args.get("order", "").strip()[:40],
        user=args.get("user", "").strip()[:100],
        agency_id=number("agency", _("Agency")),
        action=args.get("action", "").strip()[:60],
        date_from=day("from", _("From")),
        date_to=day("to", _("Until")),
        event_id=number("event", _("Event")),
    )
    return wanted, problems


def _event_id_arg(name: str) -> int | None:
    value = request.args.get(name, type=int)
    return value if value is not None and 0 <= value < 2**62 else None


@bp.get("/")
@permission_required("audit:view")
def index():  # type: ignore[no-untyped-def]
    db = get_session()
    wanted, problems = _filter_from_request()
    conditions = queries.conditions_for(db, wanted)
    where = [*queries.visible_to(current_user), *conditions.where]
    if conditions.unknown_order:
        problems.append(_("No order has the number or id %(order)s.", order=wanted.order))
    page = queries.page_of_events(
        db,
        where,
        before=_event_id_arg("before"),
        after=_event_id_arg("after"),
    )
    head_seq, head_hash = chain.chain_status(db)
    unsealed = db.scalar(select(func.count()).where(AuditEvent.chain_seq.is_(None)))
    return render_template(
        "audit/index.html",
        wanted=wanted,
        problems=problems,
        order=conditions.order,
        page=page,
        names=queries.names_for(db, page.events),
        changes=queries.changes,
        event_label=action_label,
        agencies=list(db.execute(select(Agency.id, Agency.name).order_by(Agency.name)).all()),
        head_seq=head_seq,
        head_hash=head_hash,
        unsealed=unsealed,
        verify_latest=format_decimal(VERIFY_LATEST),
    )


@bp.get("/verify")
@permission_required("audit:view")
def verify():  # type: ignore[no-untyped-def]
    """Check the latest events' chain here and now; the whole chain is the CLI's job."""
    db = get_session()
    result = chain.verify_chain(db, latest=VERIFY_LATEST)
    return render_template(
        "audit/verify.html", result=result, verify_latest=format_decimal(VERIFY_LATEST)
    )


@bp.get("/export.<any(csv, jsonl):file_format>")
@permission_required("audit:view")
def export(file_format: str):  # type: ignore[no-untyped-def]
    db = get_session()
    wanted, _problems = _filter_from_request()
    conditions = queries.conditions_for(db, wanted)
    up_to = queries.last_event_id(db)
    where = [*queries.visible_to(current_user), *conditions.where]
    records = queries.export_records(db, where, up_to)
    if file_format == "csv":
        chunks, mimetype = queries.csv_chunks(records), "text/csv; charset=utf-8"
    else:
        chunks, mimetype = queries.jsonl_chunks(records), "application/x-ndjson; charset=utf-8"
    response = Response(stream_with_context(chunks), content_type=mimetype)
    filename = f"audit-events-{today_in_jakarta().isoformat()}.{file_format}"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
