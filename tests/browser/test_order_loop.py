"""The whole e-Order loop in a real browser, as the people who walk it."""

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select

from marketplace.ordering.models import Order
from marketplace.ordering.states import OrderStatus
from tests.support import PASSWORD

pytestmark = pytest.mark.browser


def proof_photo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), "khaki").save(buffer, "JPEG")
    return buffer.getvalue()


def test_vendor_lists_requester_orders_approver_approves_vendor_delivers_approver_receives(
    db, world, person
):
    category = world.product.category
    db.commit()

    # The vendor lists a new product.
    vendor = person(world.vendor_owner.email, PASSWORD)
    vendor.goto("/vendor/")
    vendor.get_by_role("link", name="Tambah produk").first.click()
    vendor.get_by_label("Nama produk", exact=True).fill("Nasi Box Ayam Betutu")
    vendor.get_by_label("Kategori", exact=True).select_option(label=category.name_id)
    vendor.get_by_label("Satuan", exact=True).select_option(label="kotak")
    vendor.get_by_label("Harga per satuan (Rp)", exact=True).fill("42000")
    vendor.get_by_label("Waktu pemesanan minimal (jam)", exact=True).fill("24")
    vendor.get_by_label("Deskripsi", exact=True).fill("Nasi, ayam betutu, lawar, sambal matah.")
    vendor.get_by_role("button", name="Simpan").click()
    expect(vendor.get_by_role("status")).to_contain_text("Nasi Box Ayam Betutu")
    expect(vendor.get_by_text("Menunggu kurator")).to_be_visible()

    # The curator approves the new listing.
    curator = person(world.curator.email, PASSWORD)
    curator.goto("/admin/listings")
    curator.get_by_role("button", name="Setujui Nasi Box Ayam Betutu").click()
    expect(curator.get_by_role("status")).to_contain_text("Nasi Box Ayam Betutu")

    # The requester finds it and orders it for a date against a budget line.
    requester = person(world.requester.email, PASSWORD)
    requester.goto("/catalog/")
    requester.get_by_label("Cari makanan dan minuman", exact=True).fill("betutu")
    requester.get_by_role("button", name="Cari").click()
    requester.get_by_role("link", name="Nasi Box Ayam Betutu").click()
    expect(requester.get_by_text("Rp 42.000")).to_be_visible()
    requester.get_by_label("Jumlah", exact=True).fill("30")
    requester.get_by_role("button", name="Tambah ke keranjang").click()
    expect(requester.get_by_text("Rp 1.260.000").first).to_be_visible()
    requester.get_by_label("Kegiatan", exact=True).fill("Rapat koordinasi kesiapsiagaan banjir")
    requester.get_by_label("Jumlah orang (pax)", exact=True).fill("30")
    requester.get_by_label("Kecamatan", exact=True).fill("Menteng")
    requester.get_by_label("Simpan alamat ini sebagai (opsional)", exact=True).fill("Aula Lt. 3")
    requester.get_by_label("Telepon penerima", exact=True).fill("0812-1111-2222")
    requester.get_by_role("button", name="Ajukan untuk persetujuan").click()
    expect(requester.get_by_role("status")).to_contain_text("Anggaran telah terikat")
    expect(requester.locator(".badge")).to_have_text("Menunggu persetujuan")
    order_url = requester.url
    order = db.scalar(select(Order).where(Order.status == OrderStatus.SUBMITTED))
    db.refresh(world.line)
    assert world.line.committed == 1_260_000
    db.commit()  # end the test's read, so the server's next writes do not wait for it

    # The approver approves it (it is not their own order).
    approver = person(world.approver.email, PASSWORD)
    approver.goto("/approvals")
    approver.get_by_role("button", name=re.compile(f"Setujui {order.number}")).click()
    expect(approver.locator(".badge")).to_have_text("Menunggu penyedia")

    # The vendor accepts it, then marks it delivered.
    vendor.goto(order_url)
    vendor.get_by_role("button", name="Terima pesanan").click()
    expect(vendor.locator(".badge")).to_have_text("Diterima penyedia")
    vendor.get_by_role("link", name="Tandai terkirim").click()
    vendor.get_by_label("Catatan untuk Perangkat Daerah (opsional)", exact=True).fill(
        "Diterima Pak Joko di lobi"
    )
    vendor.get_by_label("Foto bukti", exact=True).set_input_files(
        files=[{"name": "bukti.jpg", "mimeType": "image/jpeg", "buffer": proof_photo()}]
    )
    vendor.get_by_role("button", name="Tandai terkirim").click()
    expect(vendor.locator(".badge")).to_have_text("Terkirim")
    expect(vendor.get_by_role("img", name="Bukti pengiriman 1")).to_be_visible()

    # The approver confirms receipt line by line: 28 of 30 boxes arrived.
    approver.goto(order_url)
    approver.get_by_role("link", name="Konfirmasi penerimaan").click()
    approver.get_by_label("Jumlah diterima", exact=True).fill("28")
    approver.get_by_label("Keterangan kondisi (opsional)", exact=True).fill("2 kotak tumpah")
    approver.get_by_role("button", name="Konfirmasi penerimaan").click()
    expect(approver.locator(".badge")).to_have_text("Diterima")
    expect(approver.get_by_text("Rp 1.176.000").first).to_be_visible()

    # The order shows its full history; the budget spent what was received.
    history = approver.locator(".history li")
    expect(history).to_have_count(7)
    for step in ("Ajukan", "Setujui", "Terima", "Tandai terkirim", "Konfirmasi penerimaan"):
        expect(approver.locator(".history")).to_contain_text(step)
    db.refresh(world.line)
    assert world.line.committed == 0
    assert world.line.spent == 28 * 42_000
    db.commit()  # end the test's read, so the server's next requests do not wait for it

    # The handover certificate and the invoice were issued; the BAST opens as a page.
    documents = approver.locator("#documents")
    expect(documents).to_contain_text("Berita Acara Serah Terima (BAST)")
    expect(documents).to_contain_text("Tagihan")
    documents.get_by_role("link", name="Lihat").first.click()
    expect(approver.get_by_role("heading", level=1)).to_contain_text("Berita Acara Serah Terima")
    expect(approver.get_by_text("Rp 1.176.000").first).to_be_visible()
    with approver.expect_download() as download:
        approver.get_by_role("link", name="Unduh PDF").click()
    assert download.value.suggested_filename.startswith("BAST-")

    # The requester rates the vendor; the vendor's page shows it.
    requester.goto(order_url)
    requester.get_by_role("link", name="Beri penilaian untuk penyedia ini").click()
    requester.get_by_label(re.compile("4 – ")).check()
    requester.get_by_label("Komentar (opsional)", exact=True).fill("Enak, dua kotak tumpah.")
    requester.get_by_role("button", name="Simpan penilaian").click()
    expect(requester.get_by_text("Enak, dua kotak tumpah.")).to_be_visible()
    db.refresh(world.vendor)
    assert (world.vendor.rating_count, world.vendor.rating_stars_total) == (1, 4)
    db.commit()

    # The treasurer pays the vendor by treasury transfer: the net payable after PPh 23.
    treasurer = person(world.treasurer.email, PASSWORD)
    treasurer.goto("/")
    treasurer.get_by_role("link", name="Pembayaran").click()
    treasurer.get_by_role("button", name="Bayar pesanan yang dipilih melalui transfer").click()
    net = 28 * 42_000 - 28 * 42_000 * 4 // 100  # no NPWP: 4% withheld
    expect(treasurer.get_by_label("Nilai yang ditransfer (Rp)", exact=True)).to_have_value(str(net))
    treasurer.get_by_label("Referensi transfer (nomor SP2D)", exact=True).fill("SP2D-0042")
    treasurer.get_by_label("Dibayar dari rekening", exact=True).fill("RKUD DKI")
    treasurer.get_by_label("Nomor bukti potong pajak", exact=True).fill("BP-23-0042")
    treasurer.get_by_role("button", name="Catat transfer").click()
    expect(treasurer.get_by_role("status")).to_contain_text("SP2D-0042")
    treasurer.goto(order_url)
    expect(treasurer.locator(".badge").first).to_have_text("Dibayar")
