"""Rendering issued documents as HTML and PDF, and bundling an order's accountability file.

Documents are official records and are always rendered in Bahasa Indonesia, from the
content frozen at issue. The PDF of a version is made once and kept: its content never
changes, so neither does the file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import re
import tempfile
import zipfile
from datetime import date
from pathlib import Path

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from PIL import ImageFile
from sqlalchemy.orm import Session

from catalog.enums import Unit
from catalog.listings_csv import spreadsheet_safe
from catalog.photos import photo_path
from marketplace.audit.services import events_for
from marketplace.delivery.models import OrderPhoto
from marketplace.documents.models import DocumentKind, IssuedDocument
from marketplace.documents.services import documents_of_order, is_intact
from marketplace.documents.words import rupiah_in_words
from marketplace.errors import Conflict
from marketplace.i18n import local_date
from marketplace.ordering.models import Order
from marketplace.ordering.rules import JAKARTA
from marketplace.taxes.services import format_rate

# WeasyPrint switches on Pillow's acceptance of truncated images when it is imported. Uploaded
# photos must never be accepted truncated and documents embed no images, so the switch is put
# back at once, here, when the application starts (never later, beside a photo upload).
_accept_truncated = ImageFile.LOAD_TRUNCATED_IMAGES
from weasyprint import CSS, HTML  # noqa: E402

ImageFile.LOAD_TRUNCATED_IMAGES = _accept_truncated

log = logging.getLogger(__name__)
DOCUMENT_LOCALE = "id"
#: where delivery and dispute photos are kept, apart from the public product photos
ORDER_PHOTOS = "order-photos"
STYLESHEET = "css/documents.css"
_TEMPLATES = {
    DocumentKind.BAST: "documents/bast.html",
    DocumentKind.INVOICE: "documents/invoice.html",
}


def _unit_label(value: str) -> str:
    return Unit(value).label


def _format_iso_date(value: str) -> str:
    return local_date(date.fromisoformat(value), "long") if value else "–"


def _intact(document: IssuedDocument) -> IssuedDocument:
    if not is_intact(document):
        log.error("issued document %s does not match its fingerprint", document.id)
        raise Conflict(_l("This document does not match the fingerprint taken when it was issued."))
    return document


def render_html(document: IssuedDocument, *, for_pdf: bool = False) -> str:
    content = _intact(document).content
    with force_locale(DOCUMENT_LOCALE):
        return render_template(
            _TEMPLATES[document.kind],
            document=document,
            c=content,
            received_on=date.fromisoformat(content["received_on"]),
            in_words=rupiah_in_words,
            percent=format_rate,
            unit_label=_unit_label,
            fmt_date=_format_iso_date,
            for_pdf=for_pdf,
        )


def _stylesheet_path() -> Path:
    return Path(current_app.static_folder or "static") / STYLESHEET


def render_pdf(document: IssuedDocument) -> bytes:
    """The PDF of this version: rendered on first request, then served from storage."""
    _intact(document)
    cache = Path(current_app.config["UPLOAD_DIR"]) / "documents-pdf"
    path = cache / f"{document.id}-{document.content_sha256[:16]}.pdf"
    if path.exists():
        return path.read_bytes()
    html = render_html(document, for_pdf=True)
    pdf = HTML(string=html, base_url=str(_stylesheet_path().parent)).write_pdf(
        stylesheets=[CSS(filename=str(_stylesheet_path()))]
    )
    if pdf is None:  # only when writing to a target; never for an in-memory render
        raise RuntimeError("WeasyPrint returned no PDF")
    cache.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=cache, suffix=".part")
    with os.fdopen(handle, "wb") as out:
        out.write(pdf)
    os.replace(temporary, path)  # atomic: a reader never sees half a file
    return pdf


def file_name(document: IssuedDocument, extension: str) -> str:
    """A download name of letters, digits and dashes only, whatever the number holds."""
    safe = re.sub(r"[^A-Za-z0-9]+", "-", document.number).strip("-")
    suffix = f"-rev{document.version}" if document.version > 1 else ""
    return f"{safe}{suffix}.{extension}"


# The accountability bundle (SPJ) ----------------------------------------------------


def _history_csv(session: Session, order: Order) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["waktu", "pelaku", "tindakan", "status_sebelum", "status_sesudah", "rincian"])
    for event in events_for(session, "order", order.id):
        before, after = event.before or {}, event.after or {}
        details = {k: v for k, v in after.items() if k not in {"status", "version"}}
        writer.writerow(
            [
                event.occurred_at.astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M:%S"),
                spreadsheet_safe(event.actor.name if event.actor else "sistem"),
                event.action,
                before.get("status", ""),
                after.get("status", ""),
                spreadsheet_safe(
                    "; ".join(f"{key}={value}" for key, value in sorted(details.items()))
                ),
            ]
        )
    return buffer.getvalue().encode("utf-8-sig")  # opens cleanly in spreadsheet programs


def accountability_bundle(session: Session, order: Order, photos: list[OrderPhoto]) -> bytes:
    """A ZIP for the treasurer's file: every version of the BAST and the invoice (PDF),
    the delivery and dispute photos, the order's history, and a manifest of SHA-256 sums."""
    files: list[tuple[str, bytes]] = []
    for document in documents_of_order(session, order):
        files.append((f"dokumen/{file_name(document, 'pdf')}", render_pdf(document)))
    photo_dir = Path(current_app.config["UPLOAD_DIR"]) / ORDER_PHOTOS
    for index, photo in enumerate(photos, start=1):
        path = photo_path(photo_dir, f"{photo.photo_key}-large.jpg")
        if path is not None and path.exists():
            files.append((f"foto/{photo.purpose.value}-{index}.jpg", path.read_bytes()))
    files.append(("riwayat-pesanan.csv", _history_csv(session, order)))
    manifest = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in files
    ).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, data in [*files, ("SHA256SUMS", manifest)]:
            bundle.writestr(name, data)
    return buffer.getvalue()
