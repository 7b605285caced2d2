"""The data of the e-Order demo world: agencies, budgets, vendors, products, people and orders.

Everything here is plain data; `marketplace.demo` turns it into rows through the real services.
Names, addresses and phone numbers are made up, and the email domains are reserved demo ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from catalog.models import BusinessScale, BusinessType, DocumentKind, ProductStatus, Unit
from marketplace.accounts.models import Role

R = Role

# Categories: slug, Indonesian name, English name (position follows the order here).
CATEGORIES = [
    ("nasi-box", "Nasi Box", "Rice box"),
    ("snack-box", "Snack Box", "Snack box"),
    ("prasmanan", "Prasmanan", "Buffet"),
    ("coffee-break", "Coffee Break", "Coffee break"),
    ("tumpeng", "Tumpeng", "Tumpeng"),
    ("minuman", "Minuman", "Beverages"),
    ("buah", "Buah", "Fruit"),
]

MEETING = "Belanja Makanan dan Minuman Rapat"
GUESTS = "Belanja Makanan dan Minuman Jamuan Tamu"
EDUCATION = "Belanja Makanan dan Minuman pada Fasilitas Pelayanan Urusan Pendidikan"
FIELD = "Belanja Makanan dan Minuman Aktivitas Lapangan"


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    position: str
    roles: tuple[Role, ...]
    does: str  # one line for the table of demo logins


@dataclass(frozen=True)
class DemoAgency:
    key: str  # also the email subdomain: requester@<key>.demo.go.id
    code: str
    name: str
    address: str
    city: str
    #: account code, name, activity, allocation in rupiah
    budget_lines: tuple[tuple[str, str, str, int], ...]
    users: tuple[DemoUser, ...]


def _agency_users(key: str, short: str, people: dict[str, tuple[str, str]]) -> tuple[DemoUser, ...]:
    """The usual four agency roles; `people` maps a mailbox to (name, position)."""
    does = {
        "requester": (R.REQUESTER,),
        "approver": (R.APPROVER,),
        "budget": (R.BUDGET_HOLDER,),
        "treasurer": (R.TREASURER,),
    }
    text = {
        "requester": f"{short}: browses the catalogue, fills the cart, places orders",
        "approver": f"{short}: approves or rejects orders, confirms receipt (BAST)",
        "budget": f"{short}: budget lines; second approval above Rp 10.000.000",
        "treasurer": f"{short}: pays received orders (SP2D)",
    }
    return tuple(
        DemoUser(f"{box}@{key}.demo.go.id", name, position, does[box], text[box])
        for box, (name, position) in people.items()
    )


_DINKES_USERS = (
    *_agency_users(
        "dinkes",
        "Dinas Kesehatan",
        {
            "requester": ("Rina Marlina, S.K.M.", "Pejabat Pengadaan"),
            "approver": ("dr. Hendra Gunawan, M.K.M.", "Pejabat Pembuat Komitmen (PPK)"),
            "budget": ("dr. Retno Wulandari, M.Kes.", "Kepala Dinas (Pengguna Anggaran)"),
        },
    ),
    DemoUser(
        "treasurer@dinkes.demo.go.id",
        "Agus Setiawan, S.E.",
        "Bendahara Pengeluaran, merangkap Pejabat Pengadaan Pembantu",
        (R.TREASURER, R.REQUESTER),
        "Dinas Kesehatan: pays orders AND places orders (one person, two roles)",
    ),
)

AGENCIES = [
    DemoAgency(
        key="dinkes",
        code="1.02.0.00.0.00.01.0000",
        name="Dinas Kesehatan Provinsi DKI Jakarta",
        address="Jl. Kesehatan No. 10, Petojo Selatan, Gambir",
        city="Jakarta Pusat",
        budget_lines=(
            (
                "5.1.02.01.01.0052",
                MEETING,
                "Koordinasi dan Sinkronisasi Penerapan SPM Bidang Kesehatan",
                250_000_000,
            ),
            (
                "5.1.02.01.01.0053",
                GUESTS,
                "Penyelenggaraan Rapat Koordinasi dan Konsultasi SKPD",
                75_000_000,
            ),
        ),
        users=_DINKES_USERS,
    ),
    DemoAgency(
        key="disdik",
        code="1.01.0.00.0.00.01.0000",
        name="Dinas Pendidikan Provinsi DKI Jakarta",
        address="Jl. Jenderal Gatot Subroto Kav. 40-41, Kuningan Timur, Setiabudi",
        city="Jakarta Selatan",
        budget_lines=(
            (
                "5.1.02.01.01.0052",
                MEETING,
                "Penyusunan Kurikulum Muatan Lokal Pendidikan Menengah",
                150_000_000,
            ),
            (
                "5.1.02.01.01.0053",
                GUESTS,
                "Penyelenggaraan Rapat Koordinasi dan Konsultasi SKPD",
                50_000_000,
            ),
            (
                "5.1.02.01.01.0055",
                EDUCATION,
                "Peningkatan Kompetensi Pendidik dan Tenaga Kependidikan",
                300_000_000,
            ),
        ),
        users=_agency_users(
            "disdik",
            "Dinas Pendidikan",
            {
                "requester": ("Dewi Lestari, S.Pd.", "Pejabat Pengadaan"),
                "approver": ("Bambang Sutrisno, M.Pd.", "Pejabat Pembuat Komitmen (PPK)"),
                "budget": ("Drs. Hasan Basri, M.M.", "Kepala Dinas (Pengguna Anggaran)"),
                "treasurer": ("Siti Rahmawati, S.E.", "Bendahara Pengeluaran"),
            },
        ),
    ),
    DemoAgency(
        key="bpbd",
        code="1.05.0.00.0.00.02.0000",
        name="Badan Penanggulangan Bencana Daerah (BPBD) Provinsi DKI Jakarta",
        address="Jl. Medan Merdeka Selatan No. 8-9, Blok G Lantai 5, Gambir",
        city="Jakarta Pusat",
        budget_lines=(
            (
                "5.1.02.01.01.0052",
                MEETING,
                "Penyusunan Rencana Kontinjensi Banjir dan Cuaca Ekstrem",
                120_000_000,
            ),
            (
                "5.1.02.01.01.0057",
                FIELD,
                "Pelatihan Kesiapsiagaan Bencana bagi Masyarakat",
                90_000_000,
            ),
        ),
        users=_agency_users(
            "bpbd",
            "BPBD",
            {
                "requester": ("Yusuf Maulana, S.T.", "Pejabat Pengadaan"),
                "approver": ("Ir. Fajar Nugroho", "Pejabat Pembuat Komitmen (PPK)"),
                "budget": ("Drs. Muhammad Ridwan, M.Si.", "Kepala Pelaksana (KPA)"),
                "treasurer": ("Nurul Hidayah, S.Ak.", "Bendahara Pengeluaran"),
            },
        ),
    ),
]

PROVINCE_USERS = [
    DemoUser(
        "finance@demo.go.id",
        "Lina Kusumawati, S.E., M.Ak.",
        "Analis Keuangan, Badan Pengelola Keuangan Daerah (BPKD)",
        (R.FINANCE,),
        "Province finance: reconciles orders, payments and budgets; exports",
    ),
    DemoUser(
        "curator@demo.go.id",
        "Teguh Prasetyo, S.T.",
        "Kurator Katalog, Biro Pengadaan Barang dan Jasa",
        (R.CURATOR,),
        "Procurement service: verifies vendors (one is waiting), resolves disputes",
    ),
    DemoUser(
        "auditor@demo.go.id",
        "Maya Anggraini, S.E., Ak.",
        "Auditor, Inspektorat Provinsi DKI Jakarta",
        (R.AUDITOR,),
        "Inspectorate: reads everything, changes nothing",
    ),
]


@dataclass(frozen=True)
class DemoVendor:
    slug: str  # also the email domain: owner@<slug>.demo.id
    legal_name: str
    trading_name: str
    business_type: BusinessType
    scale: BusinessScale
    district: str
    city: str
    phone: str
    owner: tuple[str, str]  # name, position
    staff: tuple[str, str] | None = None
    verified_days_ago: int | None = 60  # None: still waiting for the curator


BT, BS = BusinessType, BusinessScale
# fmt: off
VENDORS = [
    DemoVendor("dapur-bu-sari", "Dapur Bu Sari (Sari Wulandari)", "Dapur Bu Sari", BT.CATERER,
               BS.MICRO, "Tebet", "Jakarta Selatan", "0812-8801-2231",
               ("Sari Wulandari", "Pemilik"), ("Andi Pratama", "Staf Dapur dan Pengiriman"), 210),
    DemoVendor("katering-berkah-menteng", "CV Berkah Boga Menteng", "Katering Berkah Menteng",
               BT.CATERER, BS.MEDIUM, "Menteng", "Jakarta Pusat", "021-3190-4417",
               ("H. Ahmad Fauzi", "Direktur"), None, 320),
    DemoVendor("kue-basah-cempaka", "Kue Basah Cempaka (Endang Susilowati)", "Kue Basah Cempaka",
               BT.HOME_INDUSTRY, BS.MICRO, "Cempaka Putih", "Jakarta Pusat", "0813-1744-9082",
               ("Endang Susilowati", "Pemilik"), None, 150),
    DemoVendor("rm-minang-saiyo", "CV Minang Saiyo Kuliner", "RM Minang Saiyo", BT.RESTAURANT,
               BS.SMALL, "Kebayoran Baru", "Jakarta Selatan", "021-7220-5816",
               ("Syafrizal", "Pemilik"), None, 280),
    DemoVendor("tumpeng-mbak-yuni", "Tumpeng Mbak Yuni (Yuni Astuti)", "Tumpeng Mbak Yuni",
               BT.HOME_INDUSTRY, BS.MICRO, "Cakung", "Jakarta Timur", "0857-1120-6634",
               ("Yuni Astuti", "Pemilik"), None, 95),
    DemoVendor("dapur-betawi-priok", "Dapur Betawi Priok (Rohimah)", "Dapur Betawi Priok",
               BT.CATERER, BS.MICRO, "Tanjung Priok", "Jakarta Utara", "0821-2290-3417",
               ("Hj. Rohimah", "Pemilik"), None, 130),
    DemoVendor("sari-buah-cengkareng", "UD Sari Buah Segar", "Sari Buah Cengkareng", BT.SHOP,
               BS.SMALL, "Cengkareng", "Jakarta Barat", "0812-9035-7710",
               ("Hendrik Wijaya", "Pemilik"), None, 180),
    DemoVendor("kedai-kopi-ragunan", "Kedai Kopi Ragunan (Dimas Aditya)", "Kedai Kopi Ragunan",
               BT.RESTAURANT, BS.MICRO, "Pasar Minggu", "Jakarta Selatan", "0878-8123-4590",
               ("Dimas Aditya", "Pemilik"), None, 45),
    # registered, not yet verified by the curator
    DemoVendor("dapur-sehat-rawamangun", "Dapur Sehat Rawamangun (Fitri Handayani)",
               "Dapur Sehat Rawamangun", BT.HOME_INDUSTRY, BS.MICRO, "Pulo Gadung",
               "Jakarta Timur", "0813-8066-2145", ("Fitri Handayani", "Pemilik"), None, None),
]

U, PAUSED = Unit, ProductStatus.PAUSED
# vendor slug -> (category, name, description, unit, price, minimum order, lead hours[, status])
PRODUCTS: dict[str, list[tuple]] = {
    "dapur-bu-sari": [
        ("nasi-box", "Nasi Box Ayam Bakar Madu", "Nasi putih, ayam bakar madu, tahu dan tempe "
         "bacem, sayur asem, sambal terasi, lalapan, dan pisang.", U.BOX, 35_000, 20, 24),
        ("nasi-box", "Nasi Box Rendang Sapi", "Nasi putih, rendang daging sapi, gulai daun "
         "singkong, perkedel kentang, sambal hijau, kerupuk, dan jeruk.", U.BOX, 45_000, 20, 24),
        ("nasi-box", "Nasi Box Gurame Asam Manis", "Nasi putih, gurame goreng saus asam manis, "
         "capcay, tahu goreng, sambal, dan semangka potong.", U.BOX, 48_000, 20, 48),
        ("prasmanan", "Prasmanan Paket Nusantara", "Nasi putih dan nasi liwet, ayam goreng "
         "lengkuas, empal gepuk, sayur lodeh, capcay, kerupuk, sambal, buah potong, es teh "
         "manis dan air mineral. Termasuk alat saji dan satu pramusaji per 50 pax.", U.PAX,
         85_000, 30, 48),
        ("tumpeng", "Tumpeng Nasi Kuning Komplit 30 Orang", "Nasi kuning dengan ayam goreng, "
         "urap sayur, telur balado, perkedel, sambal goreng kentang ati, tempe orek dan kerupuk "
         "udang, di atas tampah berhias daun pisang.", U.PACKAGE, 1_350_000, 1, 72),
        ("minuman", "Es Teh Manis Cup 350 ml", "Teh melati dengan gula pasir, cup bersegel dan "
         "sedotan kertas.", U.PIECE, 7_000, 30, 24),
    ],
    "katering-berkah-menteng": [
        ("prasmanan", "Prasmanan Paket Eksekutif", "Nasi putih, sop buntut, ayam bakar taliwang, "
         "ikan kakap saus padang, tumis brokoli udang, puding, buah potong, es buah dan air "
         "mineral. Termasuk meja saji, pemanas dan pramusaji.", U.PAX, 115_000, 50, 72),
        ("prasmanan", "Prasmanan Paket Standar", "Nasi putih, ayam goreng kalasan, semur daging, "
         "sayur asem, perkedel jagung, kerupuk, buah potong dan air mineral.", U.PAX, 75_000, 50,
         48),
        ("nasi-box", "Nasi Box Premium Daging Lada Hitam", "Nasi putih, daging sapi lada hitam, "
         "ayam goreng mentega, tumis buncis, puding cokelat, dan air mineral.", U.BOX, 55_000, 25,
         24),
        ("nasi-box", "Nasi Box Ayam Goreng Kremes", "Nasi putih, ayam goreng kremes, tahu tempe, "
         "sayur sop, sambal bawang, lalapan, dan jeruk.", U.BOX, 38_000, 25, 24),
        ("coffee-break", "Coffee Break Pagi Dua Kue", "Dua kue pilihan (lemper, sus vla, lapis "
         "legit), kopi tubruk dan teh melati dengan gula terpisah.", U.PAX, 32_000, 20, 24),
        ("snack-box", "Snack Box Rapat Eksekutif Isi 3", "Croissant keju, sus vla, lapis legit, "
         "dan air mineral botol 330 ml.", U.BOX, 25_000, 25, 24, PAUSED),
    ],
    "kue-basah-cempaka": [
        ("snack-box", "Snack Box Tradisional Isi 3", "Lemper ayam, risoles ragout, kue lapis "
         "pelangi, dan air mineral gelas 220 ml.", U.BOX, 15_000, 30, 24),
        ("snack-box", "Snack Box Isi 4 (2 Asin, 2 Manis)", "Pastel sayur, arem-arem, kue talam, "
         "bolu pandan, dan air mineral gelas 220 ml.", U.BOX, 19_500, 30, 24),
        ("snack-box", "Snack Box Jajan Pasar Isi 2", "Kue mangkok dan nagasari, dikemas dus "
         "kecil.", U.BOX, 12_000, 30, 24),
        ("snack-box", "Snack Box Sehat Rendah Gula", "Kroket kentang panggang, klepon gula aren "
         "rendah gula, potongan buah, dan air mineral.", U.BOX, 22_000, 30, 48),
        ("coffee-break", "Coffee Break Jajan Pasar", "Tiga jajan pasar di nampan (kue lumpur, "
         "dadar gulung, risoles), teh manis dan kopi hitam.", U.PAX, 28_000, 10, 24),
    ],
    "rm-minang-saiyo": [
        ("nasi-box", "Nasi Box Padang Rendang", "Nasi putih, rendang sapi, gulai nangka, daun "
         "singkong rebus, sambal lado hijau, dan kerupuk kulit.", U.BOX, 42_000, 20, 24),
        ("nasi-box", "Nasi Box Padang Ayam Pop", "Nasi putih, ayam pop, gulai nangka, sambal "
         "lado merah, dan daun singkong.", U.BOX, 38_000, 20, 24),
        ("nasi-box", "Nasi Box Padang Gulai Kakap", "Nasi putih, gulai kepala kakap potong, "
         "terong balado, perkedel, dan sambal hijau.", U.BOX, 45_000, 20, 24),
        ("nasi-box", "Nasi Box Dendeng Batokok", "Nasi putih, dendeng sapi batokok lado mudo, "
         "gulai tunjang, sayur kol, dan sambal ijo.", U.BOX, 52_000, 20, 24),
        ("prasmanan", "Prasmanan Hidang Minang", "Rendang, ayam gulai, gulai tunjang, ikan bakar, "
         "sayur nangka, sambal lado, nasi putih, es teh, dan air mineral.", U.PAX, 95_000, 40, 48),
        ("minuman", "Es Jeruk Peras 350 ml", "Jeruk peras segar dengan es batu kristal, cup "
         "bersegel.", U.PIECE, 12_000, 20, 24),
    ],
    "tumpeng-mbak-yuni": [
        ("tumpeng", "Tumpeng Nasi Kuning 20 Orang", "Nasi kuning, ayam goreng bumbu kuning, "
         "telur pindang, urap, sambal goreng ati, perkedel, dan rempeyek.", U.PACKAGE, 850_000, 1,
         72),
        ("tumpeng", "Tumpeng Nasi Uduk Betawi 30 Orang", "Nasi uduk, ayam goreng, semur jengkol, "
         "bihun goreng, telur balado, orek tempe, emping, dan sambal kacang.", U.PACKAGE,
         1_250_000, 1, 72),
        ("tumpeng", "Tumpeng Nasi Liwet Sunda 40 Orang", "Nasi liwet teri, ayam bakar, ikan asin "
         "peda, tahu tempe goreng, lalapan, sambal dadak.", U.PACKAGE, 1_750_000, 1, 72),
        ("tumpeng", "Tumpeng Jumbo Peresmian 80 Orang", "Tumpeng nasi kuning besar dengan ayam "
         "ingkung, sate lilit, udang balado, urap, dan aneka lauk; cocok untuk peresmian.",
         U.PACKAGE, 2_450_000, 1, 96),
        ("tumpeng", "Tumpeng Ingkung Ayam Kampung 25 Orang", "Nasi gurih dengan ingkung ayam "
         "kampung utuh, urap, telur rebus, dan sambal goreng.", U.PACKAGE, 1_150_000, 1, 72,
         PAUSED),
        ("nasi-box", "Nasi Box Tumpeng Mini", "Tumpeng mini nasi kuning per orang dengan ayam "
         "suwir, telur dadar iris, urap, dan kering tempe.", U.BOX, 35_000, 20, 48),
    ],
    "dapur-betawi-priok": [
        ("nasi-box", "Nasi Uduk Box Ayam Goreng", "Nasi uduk, ayam goreng, bihun goreng, orek "
         "tempe, telur balado, emping, dan sambal kacang.", U.BOX, 30_000, 20, 24),
        ("nasi-box", "Nasi Ulam Betawi Box", "Nasi ulam dengan kemangi dan serundeng, semur "
         "tahu, empal, dendeng, dan sambal.", U.BOX, 32_000, 20, 24),
        ("nasi-box", "Nasi Box Semur Daging Betawi", "Nasi putih, semur daging, sayur asem, "
         "perkedel, kerupuk, dan sambal terasi.", U.BOX, 42_000, 20, 24),
        ("snack-box", "Snack Box Kue Betawi", "Kue rangi, kue pancong, dodol Betawi, dan air "
         "mineral gelas.", U.BOX, 16_000, 30, 24),
        ("prasmanan", "Prasmanan Betawi", "Soto Betawi, gabus pucung, ayam goreng, sayur asem, "
         "kerupuk, nasi putih, es selendang mayang, dan air mineral.", U.PAX, 68_000, 50, 48),
        ("minuman", "Bir Pletok 250 ml", "Minuman rempah khas Betawi (jahe, secang, serai), "
         "tanpa alkohol, botol kaca.", U.PIECE, 10_000, 20, 24),
    ],
    "sari-buah-cengkareng": [
        ("buah", "Buah Potong Cup 250 g", "Melon, semangka, pepaya, dan nanas potong dalam cup "
         "bertutup.", U.PIECE, 12_000, 30, 24),
        ("buah", "Buah Potong Platter 20 Orang", "Nampan buah potong musiman untuk 20 orang, "
         "dengan garpu buah.", U.PACKAGE, 275_000, 1, 24),
        ("buah", "Parsel Buah Meja Rapat 5 kg", "Apel, jeruk, salak pondoh, pir, dan anggur di "
         "keranjang rotan.", U.PACKAGE, 350_000, 1, 24),
        ("minuman", "Jus Jeruk Segar 350 ml", "Jus jeruk peras tanpa pengawet, botol "
         "bersegel.", U.PIECE, 15_000, 20, 24),
        ("minuman", "Jus Jambu Merah 1 Liter", "Jus jambu biji merah tanpa pengawet, botol 1 "
         "liter.", U.LITRE, 35_000, 5, 24),
        ("minuman", "Air Mineral Gelas 220 ml (Dus Isi 48)", "Air mineral kemasan gelas, satu "
         "dus isi 48.", U.PACKAGE, 42_000, 5, 12),
        ("minuman", "Infused Water Lemon Mint 1 Liter", "Air mineral dengan irisan lemon dan "
         "daun mint segar.", U.LITRE, 25_000, 5, 24),
    ],
    "kedai-kopi-ragunan": [
        ("coffee-break", "Coffee Break Roti dan Kopi", "Roti sobek isi cokelat keju, roti "
         "abon, kopi susu, dan teh manis.", U.PAX, 35_000, 20, 24),
        ("coffee-break", "Coffee Break Sore Pisang Goreng", "Pisang goreng, singkong goreng, "
         "tahu isi, teh manis panas, dan kopi hitam.", U.PAX, 25_000, 20, 24),
        ("coffee-break", "Coffee Break Premium", "Croissant, muffin pisang, kue lapis Surabaya, "
         "kopi susu gula aren dan teh.", U.PAX, 45_000, 20, 24),
        ("minuman", "Kopi Susu Gula Aren 1 Liter", "Kopi susu gula aren dari biji Gayo, botol "
         "1 liter untuk sekitar 5 gelas.", U.LITRE, 85_000, 2, 24),
        ("minuman", "Teh Manis Panas Termos 5 Liter", "Teh melati panas dengan gula terpisah, "
         "termos dipinjamkan dan diambil kembali.", U.PACKAGE, 75_000, 1, 24),
        ("snack-box", "Snack Box Roti Isi 2", "Dua roti (cokelat keju dan abon sapi) dan air "
         "mineral gelas.", U.BOX, 14_000, 20, 12),
    ],
    "dapur-sehat-rawamangun": [
        ("nasi-box", "Nasi Box Merah Ayam Panggang", "Nasi merah, ayam panggang bumbu rujak, "
         "tumis sayur, tempe bacem, dan buah.", U.BOX, 40_000, 20, 24),
        ("snack-box", "Snack Box Sehat Isi 3", "Roti gandum isi telur, edamame rebus, buah "
         "potong, dan air mineral.", U.BOX, 20_000, 30, 24),
    ],
}
# fmt: on


@dataclass(frozen=True)
class DemoOrder:
    """One order and the status it is walked to. `day` is the delivery day from today."""

    status: str
    agency: str
    vendor: str
    items: tuple[tuple[str, int], ...]  # product name, quantity
    account_code: str
    activity: str
    day: int
    at: time
    address: str
    headcount: int | None = None
    notes: str = ""
    requester: str = "requester"  # the mailbox in the agency's demo domain
    reason: str = ""  # for rejection, decline, cancellation and dispute
    received: tuple[int, ...] = ()  # partial receipt: quantity received per item
    remark: str = ""
    second_approval_pending: bool = False
    #: who takes the delivery (name, phone); empty: the requester at the office number
    recipient: tuple[str, str] | None = None
    #: days ago the order was placed; set, its whole history is replayed on the demo clock
    #: (approved an hour later, accepted within hours, received the morning after delivery)
    placed: int | None = None
    #: days ago the treasurer paid (with `placed`); otherwise payments are made today
    paid_days_ago: int | None = None
    #: a first transfer of `partial_percent` of what is owed, and why the rest waits
    partial_reason: str = ""
    partial_percent: int = 100
    #: money the vendor transferred back after payment: (rupiah, reason)
    refund: tuple[int, str] | None = None


T = time
DINKES_HALL = "Aula Lt. 3 Dinas Kesehatan, Jl. Kesehatan No. 10, Petojo Selatan, Gambir"
DISDIK_HALL = "Aula Gedung B Dinas Pendidikan, Jl. Jend. Gatot Subroto Kav. 40-41, Setiabudi"
BPBD_ROOM = "Ruang Rapat Pusdatin BPBD, Balai Kota Blok G Lt. 5, Jl. Medan Merdeka Selatan 8-9"
DO = DemoOrder

# The expired order comes first: expiry must run before other approved orders exist.
# The cart order comes last: later carts of the same requester and vendor would join it.
# fmt: off
ORDERS = [
    DO("expired", "bpbd", "dapur-betawi-priok", (("Nasi Uduk Box Ayam Goreng", 40),),
       "5.1.02.01.01.0052", "Rapat Evaluasi Posko Banjir Jakarta Utara", -3, T(11, 30),
       "Kantor Kecamatan Tanjung Priok, Jl. Yos Sudarso No. 27", 40),
    # reconciled: the whole loop closed
    DO("reconciled", "dinkes", "rm-minang-saiyo", (("Nasi Box Padang Rendang", 60),),
       "5.1.02.01.01.0052", "Rapat Koordinasi Penanggulangan DBD Tingkat Provinsi", -24,
       T(12, 0), DINKES_HALL, 60),
    DO("reconciled", "dinkes", "tumpeng-mbak-yuni", (("Tumpeng Nasi Kuning 20 Orang", 2),),
       "5.1.02.01.01.0053", "Syukuran Akreditasi Paripurna Puskesmas Kecamatan", -21, T(10, 0),
       "Puskesmas Kecamatan Cakung, Jl. Raya Bekasi Km. 18", 40),
    DO("reconciled", "disdik", "katering-berkah-menteng", (("Prasmanan Paket Standar", 80),),
       "5.1.02.01.01.0055", "Bimbingan Teknis Guru Penggerak Angkatan 11", -18, T(12, 0),
       DISDIK_HALL, 80),
    DO("reconciled", "bpbd", "kedai-kopi-ragunan", (("Coffee Break Roti dan Kopi", 35),),
       "5.1.02.01.01.0052", "Rapat Penyusunan Rencana Kontinjensi Banjir", -14, T(9, 30),
       BPBD_ROOM, 35),
    # paid, waiting for finance to reconcile
    DO("paid", "dinkes", "dapur-bu-sari",
       (("Nasi Box Ayam Bakar Madu", 45), ("Es Teh Manis Cup 350 ml", 45)),
       "5.1.02.01.01.0052", "Sosialisasi Germas bagi Kader Posyandu", -10, T(12, 0),
       DINKES_HALL, 45),
    DO("paid", "disdik", "sari-buah-cengkareng",
       (("Buah Potong Cup 250 g", 100), ("Jus Jeruk Segar 350 ml", 100)),
       "5.1.02.01.01.0055", "Asesmen Nasional Berbasis Komputer (ANBK) SMK", -8, T(10, 0),
       "SMK Negeri 13 Jakarta, Jl. Rawa Belong No. 2, Kebon Jeruk", 100),
    DO("paid", "bpbd", "dapur-betawi-priok",
       (("Prasmanan Betawi", 60), ("Bir Pletok 250 ml", 60)),
       "5.1.02.01.01.0057", "Pelatihan Relawan Kelurahan Tangguh Bencana", -9, T(12, 0),
       "Gedung Serbaguna Kelurahan Sunter Agung, Tanjung Priok", 60),
    # received (one in full, one partial), waiting for the treasurer
    DO("received", "dinkes", "katering-berkah-menteng",
       (("Nasi Box Ayam Goreng Kremes", 50), ("Coffee Break Pagi Dua Kue", 50)),
       "5.1.02.01.01.0052", "Workshop Sistem Informasi Puskesmas (SIMPUS)", -4, T(12, 0),
       DINKES_HALL, 50),
    DO("received", "disdik", "kue-basah-cempaka",
       (("Snack Box Isi 4 (2 Asin, 2 Manis)", 120), ("Snack Box Jajan Pasar Isi 2", 60)),
       "5.1.02.01.01.0052", "Rapat Penyusunan Kalender Pendidikan Tahun Ajaran Baru", -3,
       T(9, 0), DISDIK_HALL, 180, received=(110, 60),
       remark="10 kotak diterima penyok dan basah karena hujan; tidak diterima."),
    # delivered, waiting for the receipt
    DO("delivered", "bpbd", "dapur-bu-sari", (("Nasi Box Rendang Sapi", 30),),
       "5.1.02.01.01.0052", "Rapat Koordinasi Siaga Musim Hujan", -1, T(12, 0), BPBD_ROOM, 30),
    DO("delivered", "dinkes", "rm-minang-saiyo", (("Nasi Box Padang Ayam Pop", 25),),
       "5.1.02.01.01.0053", "Kunjungan Kerja Kementerian Kesehatan", -1, T(12, 30),
       "Ruang Rapat Kepala Dinas, Dinas Kesehatan, Jl. Kesehatan No. 10, Gambir", 25),
    # disputed, waiting for the curator
    DO("disputed", "disdik", "tumpeng-mbak-yuni", (("Tumpeng Nasi Uduk Betawi 30 Orang", 2),),
       "5.1.02.01.01.0053", "Pisah Sambut Kepala Bidang SMA", -2, T(11, 0), DISDIK_HALL, 60,
       reason="Tumpeng datang terlambat dua jam dan lauk tidak lengkap (tanpa ayam goreng)."),
    # accepted, to be delivered
    DO("accepted", "disdik", "kedai-kopi-ragunan",
       (("Coffee Break Premium", 40), ("Kopi Susu Gula Aren 1 Liter", 4)),
       "5.1.02.01.01.0052", "Rapat Kerja Penyusunan Anggaran Perubahan", 3, T(15, 0),
       DISDIK_HALL, 40),
    DO("accepted", "dinkes", "dapur-betawi-priok", (("Nasi Ulam Betawi Box", 35),),
       "5.1.02.01.01.0052", "Rapat Evaluasi Program Imunisasi Kejar", 4, T(12, 0),
       "Sudin Kesehatan Jakarta Utara, Jl. Yos Sudarso No. 27, Tanjung Priok", 35),
    # accepted for today and tomorrow, placed earlier in the week: the vendors' kitchen sheets
    DO("accepted", "bpbd", "dapur-bu-sari", (("Nasi Box Ayam Bakar Madu", 60),),
       "5.1.02.01.01.0057", "Apel Kesiapsiagaan Personel Menghadapi Musim Hujan", 0, T(6, 30),
       "Halaman Apel Balai Kota, Jl. Medan Merdeka Selatan No. 8-9, Gambir", 60,
       notes="Apel dimulai pukul 07.00; mohon tiba paling lambat 06.30 di pos jaga depan.",
       recipient=("Rudi Hartono", "0812-1903-4471"), placed=4),
    DO("accepted", "dinkes", "dapur-bu-sari",
       (("Nasi Box Rendang Sapi", 35), ("Es Teh Manis Cup 350 ml", 35)),
       "5.1.02.01.01.0052", "Rapat Koordinasi Surveilans Campak dan Rubela", 0, T(11, 30),
       DINKES_HALL, 35, notes="Lima kotak tanpa sambal untuk peserta yang sedang diet.",
       recipient=("Wulan Safitri, A.Md.", "0813-8122-4090"), placed=4),
    DO("accepted", "disdik", "dapur-bu-sari", (("Nasi Box Ayam Bakar Madu", 30),),
       "5.1.02.01.01.0052", "Rapat Lembur Finalisasi Petunjuk Teknis SPMB SMA/SMK", 0,
       T(17, 30), "Ruang Rapat Bidang SMA Lt. 4, Dinas Pendidikan, Jl. Jend. Gatot Subroto "
       "Kav. 40-41, Setiabudi", 30,
       notes="Rapat berlanjut sampai malam; titipkan di meja resepsionis lantai 4.",
       recipient=("Agung Prasetyo, S.Kom.", "0857-7711-3208"), placed=4),
    DO("accepted", "dinkes", "dapur-bu-sari", (("Prasmanan Paket Nusantara", 50),),
       "5.1.02.01.01.0053", "Pertemuan Evaluasi Kinerja Puskesmas Semester II", 1, T(11, 0),
       DINKES_HALL, 50, notes="Meja prasmanan siap pukul 11.30; acara makan siang 12.00.",
       recipient=("Wulan Safitri, A.Md.", "0813-8122-4090"), placed=3),
    DO("accepted", "bpbd", "dapur-bu-sari",
       (("Nasi Box Gurame Asam Manis", 40), ("Es Teh Manis Cup 350 ml", 40)),
       "5.1.02.01.01.0052", "Rapat Teknis Penyusunan Peta Rawan Genangan", 1, T(12, 0),
       BPBD_ROOM, 40, recipient=("Rudi Hartono", "0812-1903-4471"), placed=3),
    DO("accepted", "disdik", "kue-basah-cempaka", (("Snack Box Isi 4 (2 Asin, 2 Manis)", 80),),
       "5.1.02.01.01.0055", "Bimbingan Teknis Penguatan Literasi dan Numerasi Guru SD", 0,
       T(8, 30), DISDIK_HALL, 80, notes="Snack dibagikan saat registrasi peserta.",
       recipient=("Agung Prasetyo, S.Kom.", "0857-7711-3208"), placed=3),
    DO("accepted", "dinkes", "kedai-kopi-ragunan", (("Coffee Break Roti dan Kopi", 30),),
       "5.1.02.01.01.0052", "Rapat Pembahasan Rancangan Pergub Kawasan Tanpa Rokok", 1,
       T(9, 30), "Ruang Rapat Sekretariat Lt. 2, Dinas Kesehatan, Jl. Kesehatan No. 10, Gambir",
       30, placed=2),
    DO("accepted", "bpbd", "rm-minang-saiyo", (("Nasi Box Padang Ayam Pop", 45),),
       "5.1.02.01.01.0057", "Rapat Koordinasi Penanganan Genangan Jakarta Barat", 1, T(12, 0),
       "Kantor Suku Dinas SDA Jakarta Barat, Jl. Raya Kembangan No. 2, Kembangan", 45,
       notes="Parkir mobil boks di basement; lapor ke satpam.",
       recipient=("Ahmad Zaki", "0821-1460-7753"), placed=2),
    # accepted later in the fortnight: the capacity calendar (one day nearly full)
    DO("accepted", "disdik", "dapur-bu-sari",
       (("Tumpeng Nasi Kuning Komplit 30 Orang", 1), ("Es Teh Manis Cup 350 ml", 30)),
       "5.1.02.01.01.0053", "Tasyakuran Purna Tugas Kepala Sekolah SMA Negeri", 4, T(10, 0),
       DISDIK_HALL, 30, notes="Tumpeng untuk acara potong tumpeng di panggung aula.",
       placed=2),
    DO("accepted", "dinkes", "dapur-bu-sari", (("Prasmanan Paket Nusantara", 150),),
       "5.1.02.01.01.0052", "Pelatihan Kader Kesehatan Jiwa Tingkat Provinsi", 8, T(11, 30),
       DINKES_HALL, 150, notes="Dua meja saji; 20 porsi vegetarian mohon dipisahkan.",
       placed=1),
    DO("accepted", "bpbd", "dapur-bu-sari",
       (("Nasi Box Ayam Bakar Madu", 100), ("Es Teh Manis Cup 350 ml", 30)),
       "5.1.02.01.01.0057", "Sosialisasi Kampung Siaga Bencana Kelurahan Bidara Cina", 8,
       T(12, 0), "Aula Kantor Kelurahan Bidara Cina, Jl. Bidara Cina No. 1, Jatinegara", 100,
       placed=1),
    DO("accepted", "disdik", "dapur-bu-sari", (("Nasi Box Rendang Sapi", 50),),
       "5.1.02.01.01.0055", "Lokakarya Penyusunan Modul Ajar Projek P5", 12, T(12, 0),
       DISDIK_HALL, 50, placed=1),
    # approved, waiting for the vendor's answer
    DO("approved", "dinkes", "dapur-bu-sari",
       (("Nasi Box Gurame Asam Manis", 30), ("Es Teh Manis Cup 350 ml", 30)),
       "5.1.02.01.01.0052", "Rapat Tim Percepatan Penurunan Stunting", 5, T(12, 0),
       DINKES_HALL, 30),
    DO("approved", "bpbd", "tumpeng-mbak-yuni", (("Tumpeng Jumbo Peresmian 80 Orang", 1),),
       "5.1.02.01.01.0057", "Peresmian Sistem Peringatan Dini Banjir Kali Ciliwung", 6, T(10, 0),
       "Pintu Air Manggarai, Jl. Manggarai Utara, Tebet", 80),
    # submitted, waiting for the approver (the last one above Rp 10.000.000: approved once,
    # waiting for the budget holder)
    DO("submitted", "disdik", "rm-minang-saiyo", (("Nasi Box Dendeng Batokok", 40),),
       "5.1.02.01.01.0052", "Rapat Koordinasi Pengawas Sekolah", 4, T(12, 0), DISDIK_HALL, 40),
    DO("submitted", "dinkes", "kue-basah-cempaka", (("Snack Box Sehat Rendah Gula", 70),),
       "5.1.02.01.01.0052", "Rapat Rekonsiliasi Laporan Keuangan Triwulan", 5, T(9, 0),
       DINKES_HALL, 70, requester="treasurer"),
    DO("submitted", "disdik", "katering-berkah-menteng", (("Prasmanan Paket Eksekutif", 120),),
       "5.1.02.01.01.0055",
       "Workshop Penguatan Kurikulum Merdeka bagi Kepala Sekolah SMA/SMK", 7, T(12, 0),
       DISDIK_HALL, 120, notes="Mohon disiapkan 10 porsi vegetarian.",
       second_approval_pending=True),
    # side exits
    DO("returned", "bpbd", "dapur-bu-sari", (("Nasi Box Ayam Bakar Madu", 40),),
       "5.1.02.01.01.0052", "Rapat Evaluasi Posko Siaga Banjir", 6, T(12, 0), BPBD_ROOM, 40,
       reason="Peserta rapat hanya 30 orang; sesuaikan jumlah nasi box."),
    DO("rejected", "disdik", "rm-minang-saiyo", (("Nasi Box Padang Gulai Kakap", 30),),
       "5.1.02.01.01.0053", "Ramah Tamah Purnabakti Staf", 5, T(12, 0), DISDIK_HALL, 30,
       reason="Kegiatan tidak tercantum dalam DPA; gunakan sub kegiatan yang sesuai."),
    DO("declined", "dinkes", "sari-buah-cengkareng", (("Buah Potong Platter 20 Orang", 3),),
       "5.1.02.01.01.0053", "Penerimaan Tamu Dinas Kesehatan Provinsi Jawa Barat", 4,
       T(10, 0), DINKES_HALL, 60,
       reason="Stok melon dan semangka sedang kosong di pasar induk pada tanggal tersebut."),
    DO("cancelled", "bpbd", "kue-basah-cempaka", (("Snack Box Tradisional Isi 3", 50),),
       "5.1.02.01.01.0052", "Rapat Teknis Evaluasi Pompa Air", 6, T(9, 0), BPBD_ROOM, 50,
       reason="Rapat ditunda oleh pimpinan."),
    DO("cancelled", "dinkes", "kedai-kopi-ragunan", (("Coffee Break Sore Pisang Goreng", 40),),
       "5.1.02.01.01.0052", "Rapat Pembahasan Renstra Dinas Kesehatan", 6, T(15, 0),
       DINKES_HALL, 40, reason="Jumlah peserta berubah; akan dipesan ulang."),
    # what finance must look at: received three weeks ago and still unpaid; paid in part
    # past its due date; and paid, then partly returned by the vendor
    DO("received", "disdik", "dapur-bu-sari", (("Nasi Box Rendang Sapi", 60),),
       "5.1.02.01.01.0052", "Rapat Evaluasi Penyaluran Dana BOS Triwulan III", -20, T(12, 0),
       DISDIK_HALL, 60, placed=25),
    DO("received", "bpbd", "dapur-betawi-priok", (("Prasmanan Betawi", 70),),
       "5.1.02.01.01.0057", "Pelatihan Tim Reaksi Cepat Kelurahan Rawan Banjir", -17,
       T(12, 0), "Gedung Serbaguna Kelurahan Kebon Bawang, Tanjung Priok", 70, placed=22,
       paid_days_ago=9, partial_percent=60,
       partial_reason="SP2D tahap I; sisa menunggu pengesahan Anggaran Kas triwulan IV."),
    DO("paid", "dinkes", "tumpeng-mbak-yuni", (("Tumpeng Nasi Kuning 20 Orang", 3),),
       "5.1.02.01.01.0053", "Syukuran Peringatan Hari Kesehatan Nasional", -13, T(10, 0),
       DINKES_HALL, 60, placed=18, paid_days_ago=6,
       refund=(150_000, "Pengembalian kelebihan harga atas temuan Inspektorat: harga tumpeng "
               "di atas standar satuan harga (SSH).")),
    # still in the requester's cart
    DO("cart", "dinkes", "kue-basah-cempaka",
       (("Snack Box Tradisional Isi 3", 40), ("Coffee Break Jajan Pasar", 10)),
       "5.1.02.01.01.0052", "", 5, T(9, 0), ""),
]
# fmt: on


@dataclass(frozen=True)
class DemoListing:
    """A listing a vendor added after joining: it waits for the curator, or was turned down."""

    vendor: str
    category: str
    name: str
    description: str
    unit: Unit
    price: int
    minimum: int
    lead_hours: int
    rejection: str = ""  # the curator's reason; empty: still waiting


NEW_LISTINGS = [
    DemoListing(
        "dapur-bu-sari",
        "nasi-box",
        "Nasi Box Ayam Suwir Kemangi",
        "Nasi putih, ayam "
        "suwir bumbu kemangi, telur dadar iris, tumis labu siam, sambal matah, kerupuk, "
        "dan pisang.",
        U.BOX,
        32_000,
        20,
        24,
    ),
    DemoListing(
        "dapur-bu-sari",
        "snack-box",
        "Snack Box Pagi Isi 3",
        "Lemper ayam, kue talam, risoles, dan air mineral gelas.",
        U.BOX,
        16_000,
        30,
        24,
        rejection="Deskripsi belum menyebutkan berat per potong dan bahan pemanis; "
        "lengkapi dan unggah foto isi kotak, lalu ajukan kembali.",
    ),
    DemoListing(
        "kedai-kopi-ragunan",
        "coffee-break",
        "Coffee Break Sore Singkong Keju",
        "Singkong goreng keju, bakwan jagung, teh manis panas, dan kopi hitam.",
        U.PAX,
        27_000,
        20,
        24,
    ),
]

#: vendor slug, kind, number, issued (days ago), expires (days from today), verified
DOCUMENTS = [
    ("dapur-bu-sari", DocumentKind.HALAL, "ID31110001234560824", 400, 1060, True),
    ("dapur-bu-sari", DocumentKind.SLHS, "443.5/0187/SLHS/SDK-JS", 1075, 21, True),
    ("katering-berkah-menteng", DocumentKind.HALAL, "ID31110000987650523", 500, 960, True),
    ("katering-berkah-menteng", DocumentKind.SLHS, "443.5/0342/SLHS/SDK-JP", 300, 795, True),
    ("kue-basah-cempaka", DocumentKind.PIRT, "P-IRT 2093171010123-29", 3, 1820, False),
]
