"""Documents, curation, photos, capacity and bulk listings, through the pages."""

import io
from datetime import date, timedelta

from PIL import Image
from sqlalchemy import func, select

from catalog.documents import expire_documents
from catalog.models import (
    DietaryTag,
    DocumentKind,
    DocumentStatus,
    PriceChange,
    Product,
    ReviewState,
    VendorDocument,
)
from marketplace.audit.models import AuditEvent
from marketplace.web import today_in_jakarta
from tests.support import ProductFactory

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def jpeg_bytes(size=(800, 600)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


def upload_document(client, kind="halal", expires_in=365, data=PDF, number="ID00410000123"):
    today = today_in_jakarta()
    return client.post(
        "/vendor/documents",
        data={
            "kind": kind,
            "number": number,
            "issued_on": (today - timedelta(days=30)).isoformat(),
            "expires_on": (today + timedelta(days=expires_in)).isoformat(),
            "file": (io.BytesIO(data), "sertifikat.pdf"),
        },
        content_type="multipart/form-data",
    )


def verified_document(db, world, kind=DocumentKind.HALAL, expires_on=None):
    today = today_in_jakarta()
    document = VendorDocument(
        vendor=world.vendor,
        kind=kind,
        number="X-1",
        issued_on=today - timedelta(days=400),
        expires_on=expires_on or today + timedelta(days=100),
        file_name="doc-x.pdf",
        file_type="pdf",
        status=DocumentStatus.VERIFIED,
    )
    db.add(document)
    db.flush()
    return document


def test_vendor_uploads_a_document_and_the_curator_verifies_it(client, db, login, world):
    db.commit()
    login(world.vendor_owner)
    assert upload_document(client).status_code == 302
    document = db.scalar(select(VendorDocument))
    assert document.status is DocumentStatus.PENDING
    with client.get(f"/vendor/documents/{document.id}/file") as served:
        assert served.data == PDF
    login(world.other_vendor_owner)
    assert client.get(f"/vendor/documents/{document.id}/file").status_code == 404
    login(world.curator)
    assert document.number in client.get("/admin/documents").get_data(as_text=True)
    assert client.post(f"/admin/documents/{document.id}/verify").status_code == 302
    db.refresh(document)
    assert document.status is DocumentStatus.VERIFIED


def test_bad_documents_are_refused(client, db, login, world):
    db.commit()
    login(world.vendor_owner)
    for response in (
        upload_document(client, data=b"<html><script>alert(1)</script></html>"),
        upload_document(client, data=b"%PDF-1.4 truncated"),
        upload_document(client, expires_in=-1),
    ):
        assert response.status_code == 400
    assert db.scalar(select(func.count()).select_from(VendorDocument)) == 0


def test_curator_rejects_with_a_reason_the_vendor_sees(client, db, login, world):
    db.commit()
    login(world.vendor_owner)
    upload_document(client)
    document = db.scalar(select(VendorDocument))
    login(world.curator)
    client.post(f"/admin/documents/{document.id}/reject", data={"reason": "Scan tidak terbaca"})
    login(world.vendor_owner)
    assert "Scan tidak terbaca" in client.get("/vendor/documents").get_data(as_text=True)


def test_expired_halal_certificate_delists_halal_products_only(db, world):
    halal = ProductFactory(vendor=world.vendor, tags=[DietaryTag.HALAL.value])
    other = world.product
    document = verified_document(db, world, expires_on=today_in_jakarta() - timedelta(days=1))
    report = expire_documents(db, today_in_jakarta())
    assert document.status is DocumentStatus.EXPIRED
    assert report.delisted == [halal]
    assert not halal.is_orderable
    assert other.is_orderable
    assert expire_documents(db, today_in_jakarta()).delisted == []  # idempotent


def test_expired_permit_delists_everything_and_a_renewal_relists(client, db, login, world):
    verified_document(db, world, DocumentKind.PIRT, today_in_jakarta() - timedelta(days=1))
    db.commit()
    login(world.vendor_owner)
    desk = client.get("/vendor/").get_data(as_text=True)  # expiry also runs on the desk
    assert "Off sale" in desk
    db.refresh(world.product)
    assert not world.product.is_orderable
    upload_document(client, kind="pirt", number="PIRT-2026")
    renewed = db.scalar(select(VendorDocument).where(VendorDocument.number == "PIRT-2026"))
    login(world.curator)
    client.post(f"/admin/documents/{renewed.id}/verify")
    db.refresh(world.product)
    assert world.product.is_orderable


def test_warnings_at_30_and_7_days(db, world):
    document = verified_document(db, world, expires_on=date(2027, 1, 31))
    assert expire_documents(db, date(2026, 12, 1)).warnings == []
    assert expire_documents(db, date(2027, 1, 1)).warnings == [(document, 30)]
    assert expire_documents(db, date(2027, 1, 2)).warnings == []
    assert expire_documents(db, date(2027, 1, 24)).warnings == [(document, 7)]
    assert expire_documents(db, date(2027, 1, 25)).warnings == []


def test_expire_documents_command(app, db, world):
    verified_document(db, world, DocumentKind.SLHS, today_in_jakarta() - timedelta(days=3))
    db.commit()
    result = app.test_cli_runner().invoke(args=["catalog", "expire-documents"])
    assert result.exit_code == 0, result.output
    assert "1 document(s) expired" in result.output
    db.refresh(world.product)
    assert world.product.delisted_reason
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "product.delist"))


def edit(client, world, **changes):
    data = {
        "name": world.product.name,
        "category_id": world.product.category_id,
        "unit": "box",
        "price": world.product.price,
        "min_order_quantity": 1,
        "lead_time_hours": 24,
        "status": "published",
        "portions_per_unit": 1,
    }
    data.update(changes)
    return client.post(f"/vendor/products/{world.product.id}/edit", data=data)


def test_small_price_rise_stays_on_sale_and_is_kept_in_history(client, db, login, world):
    db.commit()
    login(world.vendor_owner)
    assert edit(client, world, price=38_500).status_code == 302  # +10% exactly
    db.refresh(world.product)
    assert world.product.review_state is ReviewState.APPROVED
    change = db.scalar(select(PriceChange))
    assert (change.old_price, change.new_price, change.changed_by_id) == (
        35_000,
        38_500,
        world.vendor_owner.id,
    )


def test_big_price_rise_or_new_name_goes_back_to_the_curator(client, db, login, world):
    db.commit()
    login(world.vendor_owner)
    edit(client, world, price=38_501)
    db.refresh(world.product)
    assert world.product.review_state is ReviewState.PENDING
    assert not world.product.is_orderable
    login(world.curator)
    client.post(
        f"/admin/listings/{world.product.id}/reject", data={"reason": "Harga terlalu tinggi"}
    )
    login(world.vendor_owner)
    assert "Harga terlalu tinggi" in client.get("/vendor/").get_data(as_text=True)


def test_photos_upload_cover_and_serving(client, db, login, world):
    db.commit()
    login(world.vendor_owner)
    for _ in range(2):
        response = client.post(
            f"/vendor/products/{world.product.id}/photos",
            data={"photo": (io.BytesIO(jpeg_bytes()), "nasi.jpg")},
            content_type="multipart/form-data",
        )
        assert response.status_code == 302
    db.refresh(world.product)
    first, second = world.product.photos
    assert first.is_cover and not second.is_cover
    first_key, first_id, second_id = first.key, first.id, second.id
    assert world.product.review_state is ReviewState.PENDING
    with client.get(f"/media/photos/{first.key}-thumb.jpg") as served:
        assert served.status_code == 200
        assert served.data.startswith(b"\xff\xd8")
        assert "immutable" in served.headers["Cache-Control"]
        assert "max-age=31536000" in served.headers["Cache-Control"]
    client.post(f"/vendor/products/{world.product.id}/photos/{second_id}/cover")
    client.post(f"/vendor/products/{world.product.id}/photos/{first_id}/delete")
    db.expire_all()
    assert [p.id for p in world.product.photos] == [second_id]
    assert world.product.photos[0].is_cover
    assert client.get(f"/media/photos/{first_key}-thumb.jpg").status_code == 404


def test_a_bad_photo_is_refused_and_the_listing_is_unchanged(client, db, login, world):
    db.commit()
    login(world.vendor_owner)
    response = client.post(
        f"/vendor/products/{world.product.id}/photos",
        data={"photo": (io.BytesIO(b"GIF89a<script>"), "x.jpg")},
        content_type="multipart/form-data",
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "not a JPEG, PNG or WebP" in page
    db.refresh(world.product)
    assert world.product.photos == []
    assert world.product.review_state is ReviewState.APPROVED


def test_at_most_six_photos(client, db, login, world):
    db.commit()
    login(world.vendor_owner)
    for _ in range(7):
        client.post(
            f"/vendor/products/{world.product.id}/photos",
            data={"photo": (io.BytesIO(jpeg_bytes((300, 300))), "p.jpg")},
            content_type="multipart/form-data",
        )
    db.refresh(world.product)
    assert len(world.product.photos) == 6


def test_capacity_and_closed_days(client, db, login, world):
    db.commit()
    login(world.vendor_owner)
    response = client.post(
        "/vendor/capacity",
        data={
            "capacity-max_portions_per_day": "300",
            "capacity-order_cutoff": "15:00",
            "capacity-submit": "1",
        },
    )
    assert response.status_code == 302
    tomorrow = today_in_jakarta() + timedelta(days=1)
    client.post(
        "/vendor/capacity",
        data={"closed-day": tomorrow.isoformat(), "closed-reason": "Libur", "closed-submit": "1"},
    )
    past = client.post(
        "/vendor/capacity",
        data={
            "closed-day": (today_in_jakarta() - timedelta(days=1)).isoformat(),
            "closed-submit": "1",
        },
    )
    assert past.status_code == 400
    db.refresh(world.vendor)
    assert world.vendor.max_portions_per_day == 300
    assert [c.day for c in world.vendor.closed_days] == [tomorrow]
    bad = client.post(
        "/vendor/capacity", data={"capacity-max_portions_per_day": "0", "capacity-submit": "1"}
    )
    assert bad.status_code == 400
    db.refresh(world.vendor)
    assert world.vendor.max_portions_per_day == 300


def test_listings_export_and_import_with_errors(client, db, login, world):
    db.commit()
    login(world.vendor_owner)
    exported = client.get("/vendor/products/export.csv")
    assert exported.headers["Content-Type"].startswith("text/csv")
    text = exported.data.decode("utf-8-sig")
    assert world.product.name in text
    header = text.splitlines()[0]
    bad = header + "\r\nNasi Baru,no-such-category,box,abc,1,24,1,,published,\r\n"
    response = client.post(
        "/vendor/products/import",
        data={"file": (io.BytesIO(bad.encode()), "l.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "nothing was imported" in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Product)) == 2
    good = (
        header
        + f"\r\nNasi Baru,{world.product.category.slug},box,30000,1,24,1,halal,published,Enak\r\n"
    )
    response = client.post(
        "/vendor/products/import",
        data={"file": (io.BytesIO(good.encode()), "l.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    new = db.scalar(select(Product).where(Product.name == "Nasi Baru"))
    assert new.review_state is ReviewState.PENDING
    assert new.tags == ["halal"]
