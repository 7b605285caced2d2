"""Completed orders as OCDS 1.1 releases: pure builders from loaded data to release and package.

One release per order, describing the order as it stands now. Its `date` is the last time
anything published about the order changed (see queries.py), and its `id` carries that date,
so a changed order appears as a new release with the same ocid.

Nothing personal is published: no person's name, e-mail or phone, no delivery address or
recipient, no free text typed by staff, no tax number (NPWP) and no bank account. See
docs/open-data.md for the field-by-field mapping and the reasons.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from catalog.enums import BusinessScale, BusinessType
from marketplace.documents.models import DocumentKind
from marketplace.opendata.queries import DocumentFacts, MoneyMovement, PublishedOrder
from marketplace.ordering.models import Order, OrderLine
from marketplace.ordering.rules import JAKARTA
from marketplace.ordering.states import OrderStatus

OCDS_VERSION = "1.1"
CURRENCY = "IDR"

#: Nomor Induk Berusaha, the national business identification number issued through OSS.
#: Written as org-id.guide writes register codes ({country}-{register}); see docs/open-data.md.
VENDOR_ID_SCHEME = "ID-NIB"
#: The province's code of the government unit (kode unit organisasi, Kepmendagri structure);
#: unique within the province that runs this e-Order, not nationally.
AGENCY_ID_SCHEME = "ID-KODEUNIT"
#: The marketplace's own category tree (an open itemClassificationScheme value).
CATEGORY_SCHEME = "EORDER-CATEGORY"

#: OCDS partyScale codelist: micro, sme, large. Small and medium businesses are both "sme".
PARTY_SCALE = {
    BusinessScale.MICRO: "micro",
    BusinessScale.SMALL: "sme",
    BusinessScale.MEDIUM: "sme",
}
#: Caterers and restaurants cook and serve (a service, as the PPh 23 rule treats them);
#: shops and home industries sell products (goods, PPh 22).
PROCUREMENT_CATEGORY = {
    BusinessType.CATERER: "services",
    BusinessType.RESTAURANT: "services",
    BusinessType.SHOP: "goods",
    BusinessType.HOME_INDUSTRY: "goods",
}
#: documentType: the BAST is the buyer's certificate that the contract was completed;
#: the core codelist has no invoice code, so "invoice" extends the open codelist.
DOCUMENT_TYPES = {DocumentKind.BAST: "completionCertificate", DocumentKind.INVOICE: "invoice"}
DOCUMENT_DESCRIPTIONS = {
    DocumentKind.BAST: "Handover certificate (berita acara serah terima) signed at receipt."
    " Not published online: it names the signatories; the buying agency holds it.",
    DocumentKind.INVOICE: "Invoice issued at receipt, with taxes and the net payable."
    " Not published online; the buying agency holds it.",
}


# Builders -----------------------------------------------------------------------------


def ocds_datetime(moment: datetime) -> str:
    """RFC 3339 in Jakarta time, to the second: 2026-03-02T11:05:12+07:00."""
    return moment.astimezone(JAKARTA).replace(microsecond=0).isoformat()


def _day_start(day: date) -> str:
    return ocds_datetime(datetime.combine(day, time(0), JAKARTA))


def _value(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": CURRENCY}


def ocid_for(order: Order, prefix: str) -> str:
    return f"{prefix}-{order.number}"


def release_id(order: Order, release_date: datetime) -> str:
    return f"{order.number}-{release_date.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def _buyer(order: Order) -> dict[str, Any]:
    agency = order.agency
    return {"id": f"{AGENCY_ID_SCHEME}-{agency.code}", "name": agency.name}


def _supplier(order: Order, prefix: str) -> dict[str, Any]:
    vendor = order.vendor
    if vendor.nib:
        return {"id": f"{VENDOR_ID_SCHEME}-{vendor.nib}", "name": vendor.trading_name}
    return {"id": f"{prefix}-vendor-{vendor.id}", "name": vendor.trading_name}


def _parties(item: PublishedOrder, prefix: str) -> list[dict[str, Any]]:
    order, paid = item.order, bool(item.movements)
    agency, vendor = order.agency, order.vendor
    buyer: dict[str, Any] = {
        **_buyer(order),
        "identifier": {"scheme": AGENCY_ID_SCHEME, "id": agency.code, "legalName": agency.name},
        "roles": ["buyer", "procuringEntity", *(["payer"] if paid else [])],
    }
    address = {
        key: value
        for key, value in (("streetAddress", agency.address), ("locality", agency.city))
        if value
    }
    buyer["address"] = {**address, "countryName": "Indonesia"}
    supplier: dict[str, Any] = _supplier(order, prefix)
    if vendor.nib:
        supplier["identifier"] = {
            "scheme": VENDOR_ID_SCHEME,
            "id": vendor.nib,
            "legalName": vendor.legal_name,
        }
    # The city only: many micro businesses cook at home, so a street address is personal.
    supplier["address"] = {"locality": vendor.city, "countryName": "Indonesia"}
    supplier["roles"] = ["supplier", *(["payee"] if paid else [])]
    supplier["details"] = {"scale": PARTY_SCALE[vendor.scale]}
    return [buyer, supplier]


def _item(line: OrderLine, quantity: int) -> dict[str, Any]:
    category = line.product.category
    return {
        "id": str(line.id),
        "description": line.product_name,
        "classification": {
            "scheme": CATEGORY_SCHEME,
            "id": category.slug,
            "description": category.name_en,
            "description_id": category.name_id,
        },
        "quantity": quantity,
        "unit": {"name": line.unit.value, "value": _value(line.unit_price)},
    }


def _contract_period(order: Order) -> dict[str, str] | None:
    if order.delivery_date is None:
        return None
    start = datetime.combine(order.delivery_date, order.delivery_time or time(0), JAKARTA)
    end = datetime.combine(
        order.delivery_date, order.delivery_until or order.delivery_time or time(0), JAKARTA
    )
    return {"startDate": ocds_datetime(start), "endDate": ocds_datetime(end)}


def _document(facts: DocumentFacts) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": f"{facts.kind.value}-{facts.number}",
        "documentType": DOCUMENT_TYPES[facts.kind],
        "title": facts.number,
        "description": DOCUMENT_DESCRIPTIONS[facts.kind],
        "datePublished": ocds_datetime(facts.first_issued_at),
        "format": "offline/print",
        "language": "id",
    }
    if facts.versions > 1:
        document["dateModified"] = ocds_datetime(facts.last_issued_at)
    return document


def _transaction(
    movement: MoneyMovement, buyer: dict[str, Any], supplier: dict[str, Any]
) -> dict[str, Any]:
    payer, payee = (supplier, buyer) if movement.refund else (buyer, supplier)
    transaction: dict[str, Any] = {
        "id": movement.id,
        "value": _value(movement.amount),
        "payer": payer,
        "payee": payee,
    }
    if movement.on is not None:
        transaction["date"] = _day_start(movement.on)
    return transaction


def build_release(item: PublishedOrder, prefix: str) -> dict[str, Any]:
    """The OCDS release of one completed order, from data loaded by `completed_orders_page`."""
    order = item.order
    buyer, supplier = _buyer(order), _supplier(order, prefix)
    award: dict[str, Any] = {
        "id": order.number,
        "status": "active",
        "value": _value(order.total),
        "suppliers": [supplier],
        "items": [_item(line, line.quantity) for line in order.lines],
    }
    if order.approved_at is not None:
        award["date"] = ocds_datetime(order.approved_at)
    received = order.received_total if order.received_total is not None else order.total
    contract: dict[str, Any] = {
        "id": order.number,
        "awardID": order.number,
        # received: delivered and certified, payment still owed; paid: nothing left to do
        "status": "active" if order.status is OrderStatus.RECEIVED else "terminated",
        "value": _value(received),
    }
    # OCDS: items the same as the award's are not repeated; a partial receipt changes them.
    if any(line.quantity_received != line.quantity for line in order.lines):
        contract["items"] = [
            _item(line, line.quantity_received) for line in order.lines if line.quantity_received
        ]
    if order.accepted_at is not None:
        contract["dateSigned"] = ocds_datetime(order.accepted_at)
    period = _contract_period(order)
    if period is not None:
        contract["period"] = period
    if item.documents:
        contract["documents"] = [_document(facts) for facts in item.documents]
    tags = ["award", "contract"]
    if item.movements:
        contract["implementation"] = {
            "transactions": [_transaction(m, buyer, supplier) for m in item.movements]
        }
        tags.append("implementation")
    return {
        "ocid": ocid_for(order, prefix),
        "id": release_id(order, item.release_date),
        "date": ocds_datetime(item.release_date),
        "tag": tags,
        "initiationType": "tender",
        "language": "en",
        "parties": _parties(item, prefix),
        "buyer": buyer,
        "tender": {
            "id": order.number,
            "procuringEntity": buyer,
            "procurementMethod": "direct",
            "procurementMethodDetails": "e-Order catalogue purchase",
            "procurementMethodRationale": "A purchase from the e-Order catalogue of verified"
            " local small food businesses, at the listed prices.",
            "mainProcurementCategory": PROCUREMENT_CATEGORY[order.vendor.business_type],
        },
        "awards": [award],
        "contracts": [contract],
    }


def build_package(
    releases: list[dict[str, Any]],
    *,
    uri: str,
    published_date: datetime,
    publisher_name: str,
    license_url: str | None = None,
    publication_policy: str | None = None,
) -> dict[str, Any]:
    package: dict[str, Any] = {
        "uri": uri,
        "version": OCDS_VERSION,
        "publishedDate": ocds_datetime(published_date),
        "publisher": {"name": publisher_name},
    }
    if license_url:
        package["license"] = license_url
    if publication_policy:
        package["publicationPolicy"] = publication_policy
    package["releases"] = releases
    return package
