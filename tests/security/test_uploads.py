"""Upload attacks through the real forms: decompression bombs, oversized files, polyglots, wrong
types and path tricks in file names, on each place that takes a file (a product's photos, a
vendor's documents, delivery photos, transfer proofs).

The photo pipeline itself (bombs in every format, EXIF, colour profiles, truncated files, text
chunks, data after the end of a JPEG, 10 MB streams, generated names) is tested directly in
tests/catalog/test_photos.py; these tests prove that each HTTP path uses it and stores nothing
when it refuses."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from catalog.models import ProductPhoto, VendorDocument
from marketplace.delivery.models import OrderPhoto
from marketplace.ordering.rules import JAKARTA
from marketplace.payments import services as payments
from marketplace.payments.models import Payment
from tests.catalog.test_photos import png_bomb
from tests.security.matrix_world import PDF_BYTES, jpeg_bytes

PAYLOAD = b"<?php system($_GET['c']); ?><script>alert(document.cookie)</script>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9"/></svg>'
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
POLYGLOT = jpeg_bytes("teal") + PAYLOAD
PATH_TRICKS = ["../../etc/passwd.jpg", "..\\..\\x.jpg", "nul\x00.jpg.php", "/etc/cron.d/x.jpg"]


class Surface:
    """One place that takes a file: how to send it, and what it stored."""

    def __init__(self, name, sender, user, model, subdir):  # type: ignore[no-untyped-def]
        self.name, self.sender, self.user, self.model, self.subdir = (
            name,
            sender,
            user,
            model,
            subdir,
        )


def _product_photo(client, db, world, order, file):  # type: ignore[no-untyped-def]
    return client.post(f"/vendor/products/{world.product.id}/photos", data={"photo": file})


def _vendor_document(client, db, world, order, file):  # type: ignore[no-untyped-def]
    today = payments.jakarta_today()
    return client.post(
        "/vendor/documents",
        data={
            "kind": "halal",
            "number": "ID31110000123",
            "issued_on": (today - timedelta(days=10)).isoformat(),
            "expires_on": (today + timedelta(days=300)).isoformat(),
            "file": file,
        },
    )


def _delivery_photo(client, db, world, order, file):  # type: ignore[no-untyped-def]
    now = datetime.now(JAKARTA)
    return client.post(
        f"/orders/{order.id}/delivery",
        data={
            "handed_over_date": now.date().isoformat(),
            "handed_over_time": now.strftime("%H:%M"),
            "photos": [file],
        },
    )


def _transfer_proof(client, db, world, order, file):  # type: ignore[no-untyped-def]
    return client.post(
        f"/orders/{order.id}/pay",
        data={
            "reference": "SP2D-4242",
            "paid_on": payments.jakarta_today().isoformat(),
            "amount": payments.outstanding(db, order),
            "payer_account": "RKUD Provinsi DKI Jakarta",
            "proof": file,
        },
    )


SURFACES = {
    "product-photo": Surface(
        "product-photo", _product_photo, "vendor_owner", ProductPhoto, "photos"
    ),
    "vendor-document": Surface(
        "vendor-document", _vendor_document, "vendor_owner", VendorDocument, "documents"
    ),
    "delivery-photo": Surface(
        "delivery-photo", _delivery_photo, "vendor_owner", OrderPhoto, "order-photos"
    ),
    "transfer-proof": Surface(
        "transfer-proof", _transfer_proof, "treasurer", Payment, "payment-proofs"
    ),
}
ORDER_STATE = {"delivery-photo": "accepted", "transfer-proof": "received"}


def tree(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


@pytest.fixture
def attack(client, db, login, world, upload_dir, database_url, search_dir):  # type: ignore[no-untyped-def]
    """attack(surface, data, name) -> (response, rows added, files added under the upload dir).

    Also checks that nothing at all was written outside the upload dir."""
    uploads = Path(upload_dir)
    around = uploads.parent  # the run's temporary directory, next to the database and index
    ignored = (Path(search_dir), Path(database_url.removeprefix("sqlite:///")).parent)

    def outside() -> set[Path]:
        return {
            path
            for path in tree(around)
            if uploads not in path.parents and not any(d in path.parents for d in ignored)
        }

    def _attack(surface_name: str, data: bytes, name: str = "upload.jpg"):  # type: ignore[no-untyped-def]
        surface = SURFACES[surface_name]
        order = (
            world.order_in(db, ORDER_STATE[surface_name]) if surface_name in ORDER_STATE else None
        )
        db.commit()
        login(world.users()[surface.user])
        rows = db.scalar(select(func.count()).select_from(surface.model))
        files, elsewhere = tree(uploads), outside()
        response = surface.sender(client, db, world, order, (io.BytesIO(data), name))
        response.request.environ["wsgi.input"].close()  # large bodies are spooled to a file
        added_rows = db.scalar(select(func.count()).select_from(surface.model)) - rows
        added_files = tree(uploads) - files
        assert outside() == elsewhere, "a file was written outside the upload dir"
        assert not Path("/etc/passwd.jpg").exists()
        for path in added_files:
            assert path.parent == uploads / surface.subdir, path
        return response, added_rows, added_files

    return _attack


def assert_refused(response, rows, files, statuses=(400,)):  # type: ignore[no-untyped-def]
    assert response.status_code in statuses, response.status_code
    assert rows == 0
    assert files == set()


def assert_refused_by_surface(surface, response, rows, files):  # type: ignore[no-untyped-def]
    # The product photo form redirects back to the product with the error flashed.
    assert_refused(response, rows, files, (302,) if surface == "product-photo" else (400,))


@pytest.mark.parametrize("surface", SURFACES)
def test_a_decompression_bomb_is_refused(attack, surface):
    bomb = png_bomb(20_000, 20_000)
    assert len(bomb) < 100_000
    assert_refused_by_surface(surface, *attack(surface, bomb, "bomb.png"))


@pytest.mark.parametrize("surface", SURFACES)
def test_a_request_over_the_size_limit_is_refused_with_413(attack, surface):
    assert_refused(*attack(surface, jpeg_bytes() + bytes(13 * 1024 * 1024)), statuses=(413,))


@pytest.mark.parametrize("surface", SURFACES)
def test_a_file_over_10_mb_within_the_request_limit_is_refused(attack, surface):
    assert_refused_by_surface(surface, *attack(surface, jpeg_bytes() + bytes(10_600_000)))


@pytest.mark.parametrize("surface", SURFACES)
def test_a_polyglot_jpeg_is_stored_re_encoded_without_its_payload(attack, surface):
    response, rows, files = attack(surface, POLYGLOT, "menu.jpg")
    assert response.status_code == 302
    assert rows == 1
    assert files
    for path in files:
        content = path.read_bytes()
        assert b"<?php" not in content and b"<script" not in content
        assert content != POLYGLOT


@pytest.mark.parametrize(
    ("surface", "data", "name"),
    [
        ("product-photo", PDF_BYTES, "menu.jpg"),
        ("product-photo", SVG, "menu.svg"),
        ("product-photo", HTML, "menu.jpg"),
        ("delivery-photo", PDF_BYTES, "bukti.jpg"),
        ("delivery-photo", SVG, "bukti.svg"),
        ("vendor-document", HTML, "halal.pdf"),
        ("vendor-document", SVG, "halal.svg"),
        ("transfer-proof", HTML, "sp2d.pdf"),
        ("transfer-proof", SVG, "sp2d.svg"),
    ],
)
def test_a_wrong_type_is_refused_whatever_its_name(attack, surface, data, name):
    assert_refused_by_surface(surface, *attack(surface, data, name))


@pytest.mark.parametrize("name", PATH_TRICKS)
@pytest.mark.parametrize("surface", SURFACES)
def test_a_path_in_the_file_name_is_ignored(attack, surface, name):
    response, rows, files = attack(surface, jpeg_bytes(), name)
    assert response.status_code == 302
    assert rows == 1
    assert files
    for path in files:
        assert "passwd" not in path.name and ".." not in path.name and "x.jpg" not in path.name
        assert "\x00" not in path.name and "php" not in path.name
