"""A provincial data set for the page benchmarks: 50,000 products, 2,000 vendors, 700 agencies
with budget lines and 200,000 orders across every status, written into a migrated database.

The data follows the domain rules so that every page shows true figures: products belong to
verified vendors and are approved; each agency has a requester, approver, budget holder and
treasurer; each order has lines, the timestamps of the milestones its status implies, and the
ledger rows they imply (commit on submission; release on rejection, decline, expiry and
cancellation; spend and release of the rest at receipt), so that every budget line's
allocation = available + committed + spent. Received orders carry their BAST and invoice
(taxes from the app's tax rule table and calculation), paid and reconciled ones a treasury
transfer. Older months are closed. The search index is built with `flask catalog reindex`.
Not written: audit events, notifications, ratings and photo files.

    .venv/bin/python bench/province.py --db sqlite [--scale 0.05]
    .venv/bin/python bench/province.py --db postgres [--scale 0.05]

Every user's password is PASSWORD below. Logins: finance@bench.go.id, curator@bench.go.id,
auditor@bench.go.id, and per agency n (1..700) requester1@a<n>.bench.go.id,
requester2@..., approver@..., budget@..., treasurer@....
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    create_pg_database,
    flask,
    migrate,
    pg_url,
)
from search_bench import CATEGORIES, DISTRICTS, generate_products

SEED = 20_261_010
PASSWORD = "bench-province-password"  # noqa: S105 (a throw-away database)
WORK_DIR = Path("/tmp/bench-province")  # noqa: S108 (generated data, outside the repository)
JAKARTA = ZoneInfo("Asia/Jakarta")
BATCH = 5_000

CITIES = (
    ("Jakarta Pusat", 8),
    ("Jakarta Selatan", 10),
    ("Jakarta Barat", 8),
    ("Jakarta Timur", 10),
    ("Jakarta Utara", 6),
)
CITY_OF = {}
_start = 0
for _city, _count in CITIES:
    for _district in DISTRICTS[_start : _start + _count]:
        CITY_OF[_district] = _city
    _start += _count

UNITS = {
    "nasi-box": "box",
    "snack-box": "box",
    "prasmanan": "pax",
    "coffee-break": "pax",
    "tumpeng": "package",
    "minuman": "piece",
    "buah": "package",
    "kue": "piece",
    "lauk": "portion",
}
ACCOUNTS = (
    ("5.1.02.01.01.0052", "Belanja Makanan dan Minuman Rapat", "Rapat koordinasi"),
    ("5.1.02.01.01.0053", "Belanja Makanan dan Minuman Jamuan Tamu", "Penerimaan tamu dinas"),
    ("5.1.02.01.01.0055", "Belanja Makanan dan Minuman Kegiatan Lapangan", "Kegiatan lapangan"),
)
AGENCY_KINDS = (
    "Dinas Kesehatan", "Dinas Pendidikan", "Dinas Perhubungan", "Dinas Sosial",
    "Dinas Lingkungan Hidup", "Dinas Bina Marga", "Dinas Sumber Daya Air",
    "Dinas Pariwisata dan Ekonomi Kreatif", "Dinas Kebudayaan", "Dinas Pemuda dan Olahraga",
    "Dinas Tenaga Kerja", "Dinas Perindustrian dan Energi", "Dinas Kependudukan",
    "Dinas Pertamanan dan Hutan Kota", "Dinas Penanggulangan Kebakaran",
    "Badan Perencanaan Pembangunan Daerah", "Badan Pengelola Keuangan Daerah",
    "Badan Kepegawaian Daerah", "Satuan Polisi Pamong Praja", "Inspektorat",
)  # fmt: skip
ACTIVITIES = (
    "Rapat Koordinasi", "Sosialisasi Program", "Bimbingan Teknis", "Rapat Evaluasi Triwulan",
    "Pelatihan Petugas", "Kunjungan Kerja", "Musyawarah Perencanaan", "Peringatan Hari Jadi",
    "Rapat Kerja Tahunan", "Forum Konsultasi Publik", "Rapat Anggaran", "Lokakarya",
)  # fmt: skip
TOPICS = (
    "Penanggulangan Banjir", "Pencegahan DBD", "Penataan Kawasan", "Pelayanan Publik",
    "Pengelolaan Sampah", "Kesiapsiagaan Bencana", "Gizi Balita", "Transportasi Umum",
    "Pendataan Warga", "UMKM Binaan", "Ruang Terbuka Hijau", "Keselamatan Kerja",
)  # fmt: skip
PERSON_NAMES = (
    "Andi", "Budi", "Citra", "Dewi", "Eko", "Fitri", "Gita", "Hendra", "Indah", "Joko",
    "Kartika", "Lukman", "Maya", "Nur", "Oktaviani", "Putri", "Rahmat", "Sari", "Teguh",
    "Utami", "Wahyu", "Yusuf", "Zainal", "Agus", "Bambang", "Dian", "Fajar", "Hadi",
)  # fmt: skip
SURNAMES = (
    "Santoso", "Wijaya", "Pratama", "Lestari", "Hidayat", "Saputra", "Kusuma", "Nugroho",
    "Siregar", "Simanjuntak", "Harahap", "Rahman", "Setiawan", "Gunawan", "Susanto",
)  # fmt: skip

#: the share of orders in each status (per mille)
STATUS_SHARES = {
    "cart": 5,
    "submitted": 25,
    "returned": 3,
    "approved": 20,
    "accepted": 30,
    "delivered": 15,
    "disputed": 2,
    "received": 50,
    "paid": 120,
    "reconciled": 635,
    "rejected": 30,
    "declined": 20,
    "expired": 15,
    "cancelled": 30,
}
RECEIVED_STATES = ("received", "paid", "reconciled")
ROOMS = ("Aula", "Ruang Rapat", "Lobi")
TIMESTAMPS = (
    "created_at", "submitted_at", "approved_at", "accepted_at", "delivered_at", "received_at",
    "paid_at", "reconciled_at", "rejected_at", "declined_at", "expired_at", "cancelled_at",
    "disputed_at", "returned_at", "handed_over_at",
)  # fmt: skip


def person(rng: random.Random) -> str:
    return f"{rng.choice(PERSON_NAMES)} {rng.choice(SURNAMES)}"


def agency_names(count: int) -> list[tuple[str, str]]:
    """(name, city) of `count` agencies: provincial offices, city offices, kecamatan and
    kelurahan offices, health centres, hospitals and schools."""
    names: list[tuple[str, str]] = [
        (f"{k} Provinsi DKI Jakarta", "Jakarta Pusat") for k in AGENCY_KINDS
    ]
    for city, _ in CITIES:
        for kind in AGENCY_KINDS[:14]:
            names.append((f"Suku {kind} Kota Administrasi {city}", city))
    for district in DISTRICTS:
        names.append((f"Kecamatan {district}", CITY_OF[district]))
        names.append((f"Puskesmas Kecamatan {district}", CITY_OF[district]))
    for district in DISTRICTS:
        for number in range(1, 7):
            roman = ("I", "II", "III", "IV", "V", "VI")[number - 1]
            names.append((f"Kelurahan {district} {roman}", CITY_OF[district]))
    for number in range(1, 120):
        names.append((f"SMA Negeri {number} Jakarta", CITIES[number % 5][0]))
    for number in range(1, 60):
        names.append((f"RSUD {DISTRICTS[number % 42]} {number}", CITY_OF[DISTRICTS[number % 42]]))
    number = 1
    while len(names) < count:
        names.append((f"SMP Negeri {number} Jakarta", CITIES[number % 5][0]))
        number += 1
    return names[:count]


def at_jakarta(day: date, hhmm: clock) -> datetime:
    return datetime.combine(day, hhmm, JAKARTA).astimezone(UTC)


def jakarta_date(moment: datetime) -> date:
    return moment.astimezone(JAKARTA).date()


def half_hour_after(moment: datetime) -> datetime:
    """The next whole half hour (Jakarta) at or after the moment, within 07:00-18:00."""
    local = moment.astimezone(JAKARTA)
    minutes = local.hour * 60 + local.minute
    minutes = min(max(30 * math.ceil(minutes / 30), 7 * 60), 18 * 60)
    return datetime.combine(local.date(), clock(minutes // 60, minutes % 60), JAKARTA).astimezone(
        UTC
    )


@dataclass
class Tables:
    """The rows to write, table by table, in the order of their foreign keys."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, table: str, **row: Any) -> None:
        self.rows[table].append(row)


class Province:
    def __init__(self, scale: float, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible test data
        self.scale = scale
        self.now = now
        self.t = Tables()
        self.password_hash = ""

    # Catalogue -------------------------------------------------------------------------

    def catalogue(self) -> None:
        rng, t = self.rng, self.t
        created = self.now - timedelta(days=800)
        self.category_ids = {}
        for position, (slug, name_id, name_en, _prices, _share) in enumerate(CATEGORIES, 1):
            self.category_ids[slug] = position
            t.add(
                "categories",
                id=position,
                slug=slug,
                name_id=name_id,
                name_en=name_en,
                position=position,
            )
        products = generate_products(round(50_000 * self.scale))
        vendor_ids: dict[tuple[str, str, str], int] = {}
        for p in products:
            vendor_ids.setdefault(
                (p["vendor_name"], p["district"], p["scale"]), len(vendor_ids) + 1
            )
        self.vendors: dict[int, dict[str, Any]] = {}
        pending = max(2, round(len(vendor_ids) * 0.02))
        keys = list(vendor_ids) + [
            (f"Dapur Baru {n + 1}", rng.choice(DISTRICTS), "micro") for n in range(pending)
        ]
        for vendor_id, (name, district, scale) in enumerate(keys, 1):
            verified = vendor_id <= len(vendor_ids)
            kind = rng.choices(
                ("caterer", "restaurant", "home_industry", "shop"), weights=(60, 25, 10, 5)
            )[0]
            city = CITY_OF[district]
            nearby = [d for d in DISTRICTS if CITY_OF[d] == city]
            extra = rng.sample(DISTRICTS, 3)
            vendor = dict(
                id=vendor_id,
                legal_name=f"{rng.choice(('CV', 'UD', 'PT'))} {name}",
                trading_name=name,
                nib=f"91{vendor_id:011d}",
                npwp=f"{vendor_id:015d}" if rng.random() < 0.8 else None,
                business_type=kind,
                scale=scale,
                district=district,
                city=city,
                service_districts=sorted(set(nearby + extra)),
                jakpreneur_number=f"JP-{vendor_id:06d}" if rng.random() < 0.5 else None,
                regional_tax_number=(
                    f"NPWPD-{vendor_id:07d}"
                    if kind in ("caterer", "restaurant") and rng.random() < 0.7
                    else None
                ),
                bank_name=rng.choice(("Bank DKI", "BRI", "BNI", "Mandiri", "BSI")),
                bank_account_number=f"10{vendor_id:08d}",
                bank_account_holder=f"{name}",
                contact_person=person(rng),
                phone=f"0812-{vendor_id // 10000:04d}-{vendor_id % 10000:04d}",
                max_portions_per_day=rng.choice((None, None, 800, 1500, 3000)),
                status="verified" if verified else "pending",
                created_at=created + timedelta(days=rng.randrange(0, 300)),
                verified_at=created + timedelta(days=rng.randrange(300, 330)) if verified else None,
                receipts_count=0,
                receipts_on_time=0,
            )
            self.vendors[vendor_id] = vendor
            for n, doc_kind in enumerate(("halal", "pirt")):
                issued = date(self.now.year - 1, 1 + rng.randrange(12), 1 + rng.randrange(28))
                t.add(
                    "vendor_documents",
                    id=vendor_id * 2 - 1 + n,
                    vendor_id=vendor_id,
                    kind=doc_kind,
                    number=f"{doc_kind.upper()}-{vendor_id:06d}",
                    issued_on=issued,
                    expires_on=issued.replace(year=issued.year + 4),
                    file_name=f"document-{vendor_id}-{n}.pdf",
                    file_type="pdf",
                    status="verified" if verified else "pending",
                    uploaded_at=vendor["created_at"],
                    reviewed_at=vendor["verified_at"],
                )
        self.products_of: dict[int, list[dict[str, Any]]] = defaultdict(list)
        names_of: dict[int, set[str]] = defaultdict(set)
        for p in products:
            vendor_id = vendor_ids[(p["vendor_name"], p["district"], p["scale"])]
            name = p["name"]
            suffix = 2
            while name in names_of[vendor_id]:  # one vendor lists a name once
                name = f"{p['name']} {suffix}"
                suffix += 1
            names_of[vendor_id].add(name)
            slug = p["category_slug"]
            portions = 1
            if slug == "tumpeng":
                portions = next((int(w) for w in name.split() if w.isdigit() and int(w) >= 10), 5)
            unit = UNITS[slug]
            moment = datetime.fromtimestamp(p["created"], UTC)
            row = dict(
                id=p["product_id"],
                vendor_id=vendor_id,
                category_id=self.category_ids[slug],
                name=name,
                description=p["description"],
                unit=unit,
                price=p["price"],
                min_order_quantity=1 if unit in ("package",) else 10,
                lead_time_hours=p["lead_time_hours"],
                portions_per_unit=portions,
                tags=p["tags"],
                status="published",
                review_state="approved",
                created_at=moment,
                updated_at=moment,
            )
            t.add("products", **row)
            self.products_of[vendor_id].append(row)
        self.ordering_vendors = sorted(self.products_of)

    # Agencies, users, budget lines -------------------------------------------------------

    def people(self, password_hash: str) -> None:
        rng, t = self.rng, self.t
        self.user_id = 0

        def user(email: str, name: str, position: str = "") -> int:
            self.user_id += 1
            t.add(
                "users",
                id=self.user_id,
                email=email,
                name=name,
                position=position,
                password_hash=password_hash,
                locale="id",
            )
            return self.user_id

        membership = [0]

        def member(
            user_id: int, role: str, agency_id: int | None = None, vendor_id: int | None = None
        ) -> None:
            membership[0] += 1
            t.add(
                "memberships",
                id=membership[0],
                user_id=user_id,
                role=role,
                agency_id=agency_id,
                vendor_id=vendor_id,
            )

        for role in ("finance", "curator", "auditor"):
            self.province_user = user(f"{role}@bench.go.id", person(rng), role.title())
            member(self.province_user, role)
            if role == "finance":
                self.finance_id = self.province_user
        for vendor_id, vendor in self.vendors.items():
            owner = user(f"owner@v{vendor_id}.bench.id", vendor["contact_person"], "Pemilik")
            member(owner, "vendor_owner", vendor_id=vendor_id)
        count = max(5, round(700 * self.scale))
        self.agencies: dict[int, dict[str, Any]] = {}
        for agency_id, (name, city) in enumerate(agency_names(count), 1):
            district = rng.choice([d for d in DISTRICTS if CITY_OF[d] == city])
            code = f"{1 + agency_id // 100}.{agency_id % 100:02d}.0.00.0.00.01.0000"
            address = f"Jl. {rng.choice(SURNAMES)} No. {rng.randrange(1, 200)}, {district}"
            t.add(
                "agencies",
                id=agency_id,
                code=code,
                name=name,
                address=address,
                city=city,
                created_at=self.now - timedelta(days=900),
            )
            t.add(
                "agency_addresses",
                id=agency_id,
                agency_id=agency_id,
                label="Kantor",
                address=address,
                district=district,
            )
            staff = {}
            for role, mailbox, position in (
                ("requester", "requester1", "Pejabat Pengadaan"),
                ("requester", "requester2", "Pejabat Pengadaan"),
                ("approver", "approver", "Pejabat Pembuat Komitmen (PPK)"),
                ("budget_holder", "budget", "Kuasa Pengguna Anggaran"),
                ("treasurer", "treasurer", "Bendahara Pengeluaran"),
            ):
                user_id = user(f"{mailbox}@a{agency_id}.bench.go.id", person(rng), position)
                member(user_id, role, agency_id=agency_id)
                staff[mailbox] = (user_id, t.rows["users"][-1]["name"], position)
            self.agencies[agency_id] = dict(
                code=code, name=name, address=address, city=city, staff=staff
            )
        self.lines_of: dict[tuple[int, int], list[int]] = {}
        self.lines: dict[int, dict[str, Any]] = {}
        line_id = 0
        for agency_id in self.agencies:
            for year in (self.now.year - 1, self.now.year):
                ids = []
                for code, name, activity in ACCOUNTS:
                    line_id += 1
                    self.lines[line_id] = dict(
                        id=line_id,
                        agency_id=agency_id,
                        fiscal_year=year,
                        account_code=code,
                        name=name,
                        activity=activity,
                        allocation=0,
                        committed=0,
                        spent=0,
                        created_at=at_jakarta(date(year, 1, 2), clock(8)),
                    )
                    ids.append(line_id)
                self.lines_of[(agency_id, year)] = ids

    # Orders --------------------------------------------------------------------------------

    def orders(
        self,
        tax_rules: list[Any],
        compute_with_rules: Any,
        profile: Any,
        digest: Any,
        number: Any,
        document_kind: Any,
        invoice_amounts: Any,
    ) -> None:
        rng, t, now = self.rng, self.t, self.now
        count = round(200_000 * self.scale)
        agency_ids = list(self.agencies)
        # A few big agencies order a lot, most order a little (Zipf-like).
        weights = [1 / (rank + 3) ** 0.9 for rank in range(len(agency_ids))]
        statuses = list(STATUS_SHARES)
        status_weights = list(STATUS_SHARES.values())
        start = now - timedelta(days=330)
        entry_id = line_row_id = document_id = payment_id = 0
        sequences: Counter[tuple[int, int, str]] = Counter()
        received: list[tuple[datetime, int]] = []  # documents are numbered in receipt order
        order_rows: dict[int, dict[str, Any]] = {}
        lines_of_order: dict[int, list[dict[str, Any]]] = {}

        def entry(
            line: dict[str, Any],
            kind: str,
            amount: int,
            order_id: int,
            at: datetime,
            actor: int | None,
            reason: str = "",
        ) -> None:
            nonlocal entry_id
            entry_id += 1
            t.add(
                "budget_entries",
                id=entry_id,
                budget_line_id=line["id"],
                kind=kind,
                amount=amount,
                order_id=order_id,
                actor_id=actor,
                reason=reason,
                created_at=at,
            )

        def days(low: float, high: float) -> timedelta:
            return timedelta(days=rng.uniform(low, high))

        for order_id in range(1, count + 1):
            status = rng.choices(statuses, weights=status_weights)[0]
            agency_id = rng.choices(agency_ids, weights=weights)[0]
            agency = self.agencies[agency_id]
            staff = agency["staff"]
            vendor_id = rng.choice(self.ordering_vendors)
            vendor = self.vendors[vendor_id]
            requester = staff[rng.choice(("requester1", "requester2"))][0]
            approver, budget_holder = staff["approver"][0], staff["budget"][0]
            times: dict[str, datetime] = {}
            # The last milestone the status implies, then the others worked out around it.
            if status in RECEIVED_STATES or status in ("delivered", "disputed"):
                if status == "reconciled":
                    times["reconciled_at"] = now - days(0.5, 300)
                    times["paid_at"] = times["reconciled_at"] - days(0.5, 15)
                elif status == "paid":
                    times["paid_at"] = now - days(0.2, 30)
                if "paid_at" in times:
                    times["received_at"] = times["paid_at"] - days(1, 13.5)
                elif status == "received":
                    times["received_at"] = now - days(0.1, 16)
                else:
                    times["delivered_at"] = now - days(0.05, 2.5)
                if "received_at" in times:
                    times["delivered_at"] = times["received_at"] - days(0.05, 2)
                if status == "disputed":
                    times["disputed_at"] = times["delivered_at"] + days(0.02, 0.3)
                late = rng.random() < 0.08
                moment = half_hour_after(
                    times["delivered_at"] - (days(0.02, 0.08) if late else timedelta(0))
                )
                times["handed_over_at"] = times["delivered_at"]
                times["accepted_at"] = moment - days(1, 4)
            elif status in ("submitted", "returned", "approved", "accepted"):
                moment = half_hour_after(now + days(1, 14))
                times["accepted_at"] = now - days(0.01, 1.5)
                late = False
            else:  # rejected, declined, expired, cancelled: any time in the year
                ended = start + days(5, 325)
                moment = half_hour_after(ended + days(1, 8))
                late = False
                times["accepted_at"] = ended
            times["approved_at"] = times["accepted_at"] - days(0.05, 1.5)
            times["submitted_at"] = times["approved_at"] - days(0.05, 2)
            times["created_at"] = times["submitted_at"] - days(0.01, 1)
            if status == "cart":
                moment = half_hour_after(now + days(3, 14))
                times = {"created_at": now - days(0, 5)}
            elif status == "submitted":
                del times["approved_at"], times["accepted_at"]
            elif status == "returned":
                times["returned_at"] = times.pop("accepted_at")
                del times["approved_at"]
            elif status == "approved":
                del times["accepted_at"]
            elif status == "rejected":
                times["rejected_at"] = times.pop("accepted_at")
                del times["approved_at"]
            elif status == "declined":
                times["declined_at"] = times.pop("accepted_at")
            elif status == "expired":
                times["expired_at"] = times.pop("accepted_at")
                times["approved_at"] = times["expired_at"] - timedelta(days=3)
                times["submitted_at"] = times["approved_at"] - days(0.05, 2)
                times["created_at"] = times["submitted_at"] - days(0.01, 1)
            elif status == "cancelled":
                times["cancelled_at"] = times.pop("accepted_at")
                if rng.random() < 0.5:
                    del times["approved_at"]
            day = jakarta_date(moment)
            if day.year < now.year - 1 or day.year > now.year:  # the data covers two fiscal years
                day = date(now.year - 1, 1, 5) if day.year < now.year else date(now.year, 12, 30)
                moment = at_jakarta(day, clock(12))
            # Lines: a main dish for the headcount, sometimes drinks or snacks besides.
            headcount = rng.choice((10, 15, 20, 25, 30, 40, 50, 60, 75, 100, 150, 200, 300))
            products = self.products_of[vendor_id]
            chosen = rng.sample(products, min(len(products), rng.choice((1, 1, 1, 2, 2, 3))))
            lines = []
            for n, product in enumerate(chosen):
                wanted = headcount if n == 0 else max(1, headcount // rng.choice((1, 2, 4)))
                quantity = max(
                    product["min_order_quantity"], math.ceil(wanted / product["portions_per_unit"])
                )
                while quantity > 1 and quantity * product["price"] > 45_000_000 // len(chosen):
                    quantity //= 2
                lines.append((product, max(quantity, product["min_order_quantity"])))
            total = sum(q * p["price"] for p, q in lines)
            line_ids = self.lines_of[(agency_id, day.year)]
            budget_line = self.lines[rng.choice(line_ids)]
            partial = status in RECEIVED_STATES and rng.random() < 0.06 and lines[0][1] >= 5
            row_lines = []
            for n, (product, quantity) in enumerate(lines):
                line_row_id += 1
                got = None
                if status in RECEIVED_STATES:
                    got = (
                        quantity - rng.randrange(1, max(2, quantity // 5))
                        if partial and n == 0
                        else quantity
                    )
                    got = max(got, 0)
                row_lines.append(
                    dict(
                        id=line_row_id,
                        order_id=order_id,
                        product_id=product["id"],
                        product_name=product["name"],
                        unit=product["unit"],
                        unit_price=product["price"],
                        quantity=quantity,
                        quantity_received=got,
                        receipt_remark="Kurang dari pesanan"
                        if got is not None and got < quantity
                        else "",
                    )
                )
            t.rows["order_lines"].extend(row_lines)
            received_total = None
            if status in RECEIVED_STATES:
                received_total = sum(r["unit_price"] * r["quantity_received"] for r in row_lines)
                # the receipt's amounts per category, as the delivery services write them
                by_category: dict[int, int] = defaultdict(int)
                for (product, _quantity), r in zip(lines, row_lines, strict=True):
                    if r["quantity_received"]:
                        by_category[product["category_id"]] += (
                            r["unit_price"] * r["quantity_received"]
                        )
                for category_id, amount in sorted(by_category.items()):
                    t.add(
                        "received_by_category",
                        order_id=order_id,
                        category_id=category_id,
                        agency_id=agency_id,
                        received_at=times["received_at"],
                        amount=amount,
                    )
            submitted = "submitted_at" in times
            year = times.get("submitted_at", times["created_at"]).year
            activity = f"{rng.choice(ACTIVITIES)} {rng.choice(TOPICS)}"
            approved = "approved_at" in times
            row = dict(
                id=order_id,
                number=f"EO-{year}-{order_id:06d}" if submitted else None,
                request_number=f"RQ-{year}-{order_id:06d}" if submitted else None,
                agency_id=agency_id,
                vendor_id=vendor_id,
                requester_id=requester,
                budget_line_id=budget_line["id"],
                status=status,
                activity_name=activity,
                delivery_date=day,
                delivery_time=moment.astimezone(JAKARTA).time(),
                delivery_until=(moment + timedelta(minutes=30)).astimezone(JAKARTA).time(),
                recipient_name=person(rng),
                recipient_phone=f"0813-{rng.randrange(10**4):04d}-{rng.randrange(10**4):04d}",
                delivery_address=f"{rng.choice(ROOMS)}, {agency['address']}",
                delivery_district=rng.choice(vendor["service_districts"]),
                headcount=headcount,
                portions=sum(q * p["portions_per_unit"] for p, q in lines),
                total=total,
                received_total=received_total,
                needs_second_approval=total > 10_000_000,
                approved_by_id=approver if approved else None,
                second_approved_by_id=budget_holder if approved and total > 10_000_000 else None,
                received_by_id=approver if received_total is not None else None,
                status_reason={
                    "rejected": "Anggaran kegiatan dialihkan",
                    "declined": "Kapasitas dapur penuh pada tanggal tersebut",
                    "cancelled": "Kegiatan ditunda",
                    "returned": "Mohon sesuaikan jumlah peserta",
                    "disputed": "Jumlah kotak yang datang kurang",
                }.get(status, ""),
                on_time=(not late) if status in RECEIVED_STATES else None,
                payment_reference="",
                # finance's figures on the order, set below with its invoice and payment
                invoice_gross=None,
                net_payable=None,
                paid_total=0,
                refunded_total=0,
                payment_count=0,
                full_payment_count=0,
                last_paid_on=None,
                version=1 + sum(1 for k in times if k not in ("created_at", "handed_over_at")),
                **{k: times.get(k) for k in TIMESTAMPS},
            )
            if status == "cart":  # the checkout form has not been filled in yet
                row.update(
                    budget_line_id=None,
                    delivery_date=None,
                    delivery_time=None,
                    delivery_until=None,
                    headcount=None,
                    activity_name="",
                    delivery_address="",
                    delivery_district="",
                    recipient_name="",
                    recipient_phone="",
                )
            order_rows[order_id] = row
            lines_of_order[order_id] = row_lines
            t.rows["orders"].append(row)
            if not submitted:
                continue
            entry(budget_line, "commit", total, order_id, times["submitted_at"], requester)
            budget_line["committed"] += total
            for ended in ("rejected", "declined", "expired", "cancelled"):
                if status == ended:
                    actor = (
                        None
                        if ended == "expired"
                        else (approver if ended == "rejected" else requester)
                    )
                    if ended == "declined":
                        actor = None
                    entry(
                        budget_line, "release", total, order_id, times[f"{ended}_at"], actor, ended
                    )
                    budget_line["committed"] -= total
            if received_total is not None:
                at = times["received_at"]
                if received_total:
                    entry(budget_line, "spend", received_total, order_id, at, approver)
                if total - received_total:
                    entry(
                        budget_line,
                        "release",
                        total - received_total,
                        order_id,
                        at,
                        approver,
                        "not received",
                    )
                budget_line["committed"] -= total
                budget_line["spent"] += received_total
                received.append((at, order_id))
                vendor["receipts_count"] += 1
                vendor["receipts_on_time"] += 1 if row["on_time"] else 0

        # Receipt documents, numbered per agency and year in receipt order, and payments.
        received.sort()
        for at, order_id in received:
            row = order_rows[order_id]
            agency = self.agencies[row["agency_id"]]
            vendor = self.vendors[row["vendor_id"]]
            budget_line = self.lines[row["budget_line_id"]]
            received_on = jakarta_date(at)
            signer = agency["staff"]["approver"]
            content: dict[str, Any] = {
                "kind": "bast",
                "received_on": received_on.isoformat(),
                "order": {
                    "number": row["number"],
                    "request_number": row["request_number"],
                    "activity": row["activity_name"],
                    "delivery_date": row["delivery_date"].isoformat(),
                    "delivery_time": row["delivery_time"].strftime("%H:%M"),
                    "delivery_until": row["delivery_until"].strftime("%H:%M"),
                    "delivery_address": row["delivery_address"],
                    "headcount": row["headcount"],
                    "handed_over_at": row["handed_over_at"]
                    .astimezone(JAKARTA)
                    .strftime("%Y-%m-%d %H:%M"),
                    "on_time": row["on_time"],
                },
                "agency": {k: agency[k] for k in ("name", "code", "address", "city")},
                "vendor": {
                    **{
                        k: vendor[k] or ""
                        for k in (
                            "legal_name",
                            "trading_name",
                            "nib",
                            "npwp",
                            "regional_tax_number",
                            "district",
                            "city",
                            "phone",
                            "scale",
                            "bank_name",
                            "bank_account_number",
                            "bank_account_holder",
                        )
                    },
                },
                "budget_line": {
                    "account_code": budget_line["account_code"],
                    "name": budget_line["name"],
                },
                "lines": [
                    {
                        "name": r["product_name"],
                        "unit": r["unit"],
                        "unit_price": r["unit_price"],
                        "quantity_ordered": r["quantity"],
                        "quantity_received": r["quantity_received"],
                        "amount": r["unit_price"] * r["quantity_received"],
                        "remark": r["receipt_remark"],
                    }
                    for r in lines_of_order[order_id]
                ],
                "ordered_total": row["total"],
                "gross": row["received_total"],
                "signatories": {
                    "agency": {"name": signer[1], "position": signer[2]},
                    "vendor": {"name": vendor["contact_person"], "position": "Pemilik"},
                },
            }
            numbers = {}
            for kind in ("bast", "invoice"):
                key = (row["agency_id"], received_on.year, kind)
                sequences[key] += 1
                numbers[kind] = number(
                    document_kind(kind), agency["code"], received_on.year, sequences[key]
                )
            invoice = dict(content, kind="invoice", bast_number=numbers["bast"])
            breakdown = compute_with_rules(
                tax_rules,
                profile(vendor["business_type"], vendor["npwp"], vendor["regional_tax_number"]),
                row["received_total"],
                received_on,
            )
            invoice["taxes"] = breakdown.as_dict()
            invoice["net_payable"] = breakdown.net_payable
            invoice["payment_due_on"] = (received_on + timedelta(days=14)).isoformat()
            for kind, body in (("bast", content), ("invoice", invoice)):
                document_id += 1
                key = (row["agency_id"], received_on.year, kind)
                t.add(
                    "issued_documents",
                    id=document_id,
                    kind=kind,
                    order_id=order_id,
                    agency_id=row["agency_id"],
                    vendor_id=row["vendor_id"],
                    year=received_on.year,
                    sequence=int(numbers[kind].rsplit("/", 1)[1]),
                    number=numbers[kind],
                    version=1,
                    content=body,
                    content_sha256=digest(body),
                    issued_at=at,
                    issued_by_id=signer[0],
                    # the invoice's amounts in their own columns, as the app issues them
                    **invoice_amounts(body),
                )
            # the current invoice's amounts on the order, as the documents services set them
            row["invoice_gross"] = invoice_amounts(invoice)["gross"]
            row["net_payable"] = breakdown.net_payable
            if row["status"] in ("paid", "reconciled") and breakdown.net_payable > 0:
                payment_id += 1
                reference = f"SP2D-{row['paid_at'].year}-{payment_id:07d}"
                row["payment_reference"] = reference
                t.add(
                    "payments",
                    id=payment_id,
                    rail="transfer",
                    status="succeeded",
                    agency_id=row["agency_id"],
                    vendor_id=row["vendor_id"],
                    amount=breakdown.net_payable,
                    paid_on=jakarta_date(row["paid_at"]),
                    reference=reference,
                    payer_account="RKUD Provinsi DKI Jakarta",
                    withholding_slips=[f"BP-{reference}"] if breakdown.withheld else [],
                    created_by_id=agency["staff"]["treasurer"][0],
                    created_at=row["paid_at"],
                    succeeded_at=row["paid_at"],
                )
                t.add(
                    "payment_allocations",
                    id=payment_id,
                    payment_id=payment_id,
                    order_id=order_id,
                    amount=breakdown.net_payable,
                )
                # the order's payment totals, as the payments services keep them
                row.update(
                    paid_total=breakdown.net_payable,
                    payment_count=1,
                    full_payment_count=1,
                    last_paid_on=jakarta_date(row["paid_at"]),
                )
        for (agency_id, year, kind), last in sequences.items():
            t.add("document_counters", agency_id=agency_id, year=year, kind=kind, last_number=last)

        # Allocations: what the year's orders needed plus headroom, allocated on 2 January.
        for line in self.lines.values():
            used = line["committed"] + line["spent"]
            allocation = max(25_000_000, math.ceil(used * rng.uniform(1.15, 1.8) / 1e6) * 1_000_000)
            line["allocation"] = allocation
            entry_id += 1
            t.add(
                "budget_entries",
                id=entry_id,
                budget_line_id=line["id"],
                kind="allocate",
                amount=allocation,
                order_id=None,
                actor_id=None,
                reason=f"DPA {line['fiscal_year']}",
                created_at=line["created_at"],
            )
        t.rows["budget_lines"] = list(self.lines.values())
        t.rows["vendors"] = [{k: v for k, v in vendor.items()} for vendor in self.vendors.values()]
        # Finance has closed every month that ended more than two months ago.
        month = date(now.year - 1, 1, 1)
        last_open = (now - timedelta(days=62)).date().replace(day=1)
        while month < last_open:
            t.add(
                "closed_periods",
                year=month.year,
                month=month.month,
                closed_by_id=self.finance_id,
                closed_at=at_jakarta((month + timedelta(days=40)).replace(day=5), clock(9)),
            )
            month = (month + timedelta(days=32)).replace(day=1)


TABLE_ORDER = (
    "categories", "vendors", "vendor_documents", "products", "users", "agencies",
    "agency_addresses", "memberships", "budget_lines", "orders", "order_lines",
    "received_by_category",
    "budget_entries", "issued_documents", "document_counters", "payments",
    "payment_allocations", "closed_periods",
)  # fmt: skip


def write(engine: Any, tables: Tables) -> Counter[str]:
    """Bulk inserts through SQLAlchemy Core, in batches, one transaction per table."""
    from catalog.db import Base
    from marketplace import all_models  # noqa: F401  (registers every table)

    written: Counter[str] = Counter()
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
            conn.exec_driver_sql("PRAGMA synchronous = OFF")
            conn.commit()
        for name in TABLE_ORDER:
            table = Base.metadata.tables[name]
            rows = tables.rows.get(name, [])
            started = time.perf_counter()
            with conn.begin():
                for first in range(0, len(rows), BATCH):
                    conn.execute(table.insert(), rows[first : first + BATCH])
            written[name] = len(rows)
            print(
                f"  {name:<22}{len(rows):>10,} rows  {time.perf_counter() - started:6.1f} s",
                flush=True,
            )
        if engine.dialect.name == "postgresql":
            with conn.begin():
                for name in TABLE_ORDER:
                    if "id" in Base.metadata.tables[name].c:
                        sql = "SELECT setval(pg_get_serial_sequence('{0}', 'id'), (SELECT coalesce(max(id), 1) FROM {0}))"  # noqa: E501
                        conn.exec_driver_sql(sql.format(name))
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as auto:
                auto.exec_driver_sql("VACUUM ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    return written


def scale_tag(scale: float) -> str:
    return "full" if scale == 1 else f"s{str(scale).replace('.', '')}"


def database_url(db: str, scale: float) -> str:
    if db == "sqlite":
        return f"sqlite:///{WORK_DIR / f'province-{scale_tag(scale)}.sqlite'}"
    return pg_url(f"eorder_bench_province_{scale_tag(scale)}")


def index_dir(db: str, scale: float) -> Path:
    return WORK_DIR / f"index-{db}-{scale_tag(scale)}"


def generate(db: str, scale: float, seed: int, build_index: bool) -> None:
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session
    from werkzeug.security import generate_password_hash

    from marketplace.documents.models import DocumentKind
    from marketplace.documents.services import content_digest, format_number, invoice_amounts
    from marketplace.taxes.calculation import VendorTaxProfile, compute_with_rules
    from marketplace.taxes.defaults import install_default_tax_rules
    from marketplace.taxes.models import TaxRule

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    url = database_url(db, scale)
    started = time.perf_counter()
    if db == "sqlite":
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        create_pg_database(url.rsplit("/", 1)[1])
    migrate(url)
    print(f"{url}: migrated in {time.perf_counter() - started:.1f} s", flush=True)

    engine = create_engine(url)
    with Session(engine) as session:
        install_default_tax_rules(session)
        session.commit()
        rules = list(session.scalars(select(TaxRule)))
        session.expunge_all()

    step = time.perf_counter()
    now = datetime.now(UTC)
    province = Province(scale, seed, now)
    province.catalogue()
    province.people(generate_password_hash(PASSWORD))
    province.orders(
        rules,
        compute_with_rules,
        lambda kind, npwp, regional: VendorTaxProfile(kind, npwp, regional),
        content_digest,
        format_number,
        DocumentKind,
        invoice_amounts,
    )
    print(f"generated in {time.perf_counter() - step:.1f} s; writing:", flush=True)
    step = time.perf_counter()
    written = write(engine, province.t)
    print(f"written in {time.perf_counter() - step:.1f} s", flush=True)
    engine.dispose()

    if build_index:
        step = time.perf_counter()
        directory = index_dir(db, scale)
        if directory.exists():
            for path in sorted(directory.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
        directory.mkdir(parents=True)
        flask(
            url,
            "catalog",
            "reindex",
            EORDER_SEARCH_INDEX_DIR=str(directory),
            EORDER_UPLOAD_DIR=str(WORK_DIR / "uploads"),
        )
        print(f"search index {directory} built in {time.perf_counter() - step:.1f} s")

    statuses = Counter(row["status"] for row in province.t.rows["orders"])
    print(f"\n{url}, scale {scale:g}, seed {seed}: {time.perf_counter() - started:.1f} s in all")
    for name in TABLE_ORDER:
        print(f"  {name:<22}{written[name]:>10,}")
    print("  orders by status: " + ", ".join(f"{s} {n:,}" for s, n in statuses.most_common()))
    biggest = Counter(row["agency_id"] for row in province.t.rows["orders"]).most_common(1)[0]
    waiting = sum(
        1 for row in province.t.rows["orders"]
        if row["agency_id"] == biggest[0] and row["status"] == "submitted"
    )  # fmt: skip
    print(
        f"  busiest agency: a{biggest[0]} with {biggest[1]:,} orders,"
        f" {waiting} waiting for approval"
    )
    check(url)


def check(url: str) -> None:
    """Read the ledger back: every line's totals match its rows, and none is overspent."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        bad = conn.execute(
            text("""
            SELECT l.id FROM budget_lines l LEFT JOIN (
              SELECT budget_line_id,
                sum(CASE WHEN kind = 'allocate' THEN amount ELSE 0 END) AS allocated,
                sum(CASE WHEN kind = 'commit' THEN amount
                         WHEN kind IN ('release', 'spend') THEN -amount ELSE 0 END) AS committed,
                sum(CASE WHEN kind = 'spend' THEN amount ELSE 0 END) AS spent
              FROM budget_entries GROUP BY budget_line_id) e ON e.budget_line_id = l.id
            WHERE l.allocation != coalesce(e.allocated, 0)
               OR l.committed != coalesce(e.committed, 0) OR l.spent != coalesce(e.spent, 0)
               OR l.allocation - l.committed - l.spent < 0
        """)
        ).fetchall()
        lines = conn.execute(text("SELECT count(*) FROM budget_lines")).scalar()
    engine.dispose()
    print(
        f"  ledger: {lines - len(bad)} of {lines} budget lines add up"
        " (allocation = available + committed + spent, available >= 0)"
    )
    if bad:
        raise SystemExit(f"ledger does not add up on lines {[row[0] for row in bad[:10]]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--no-index", action="store_true", help="skip the search index")
    args = parser.parse_args()
    generate(args.db, args.scale, args.seed, not args.no_index)


if __name__ == "__main__":
    main()
