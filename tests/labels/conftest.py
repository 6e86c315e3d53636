"""Shared test data and real readers (pypdfium2 to rasterise, zxing-cpp to decode) for the labels tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pypdfium2 as pdfium
import pytest
import zxingcpp

from labels import KitLabel, LabDetails, ReturnMarking, specimen_id_from_serial

# Synthetic patients only: NHS numbers from the 999 test range, made-up names and addresses.
_FORENAMES = ("Jane", "Amir", "Siân", "Zoë", "Łukasz", "Olúwáseun", "Mary-Kate", "Li", "Padraig", "Ewa")
_SURNAMES = ("SMITH", "KHAN", "O'BRIEN", "NGUYEN", "KOWALSKI", "ADEBAYO", "JONES", "FEATHERSTONEHAUGH-WORTHINGTON")


def nhs_number_for(index: int) -> str:
    """A valid test-range NHS number (999...) with a correct modulus-11 check digit."""
    n = index
    while True:
        body = f"999{n % 1_000_000:06d}"
        total = sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        if check == 11:
            check = 0
        if check != 10:
            return body + str(check)
        n += 1


def make_kit(serial: int) -> KitLabel:
    forename = _FORENAMES[serial % len(_FORENAMES)]
    surname = _SURNAMES[(serial // len(_FORENAMES)) % len(_SURNAMES)]
    return KitLabel(
        specimen_id=specimen_id_from_serial(serial),
        patient_name=f"{forename} {surname}",
        date_of_birth=date(1940 + serial % 50, 1 + serial % 12, 1 + serial % 28),
        nhs_number=nhs_number_for(serial),
        address_lines=(f"{serial % 200 + 1} Station Road", "Little Snoring", "Fakenham"),
        postcode="NR21 0AA",
    )


@pytest.fixture
def kits() -> Callable[[int, int], list[KitLabel]]:
    """``kits(count, first_serial)``: a batch of synthetic kits with consecutive serials."""

    def build(count: int, first_serial: int = 1) -> list[KitLabel]:
        return [make_kit(first_serial + i) for i in range(count)]

    return build


@pytest.fixture
def lab() -> LabDetails:
    return LabDetails(
        name="Norfolk FIT Laboratory",
        address_lines=("FREEPOST RTKZ-ABCD", "Pathology Department", "Colney Lane", "Norwich"),
        postcode="NR4 7UY",
        phone="01603 000 000",
        email="fit.lab@example.nhs.uk",
        opening_hours="Monday to Friday, 9am to 5pm",
    )


@pytest.fixture
def marking() -> ReturnMarking:
    return ReturnMarking(un_number="UN3373", shipping_name="Biological Substance, Category B")


@dataclass(frozen=True)
class DecodedBarcode:
    """One barcode zxing-cpp found on a page, its centre in mm from the page's top-left."""

    text: str
    format: str
    centre_x_mm: float
    centre_y_mm: float
    left_x_mm: float


def decode_page(page: pdfium.PdfPage, dpi: int) -> list[DecodedBarcode]:
    image = page.render(scale=dpi / 72, grayscale=True).to_pil()
    px_mm = 25.4 / dpi
    found = []
    for result in zxingcpp.read_barcodes(image):
        p = result.position
        xs = [p.top_left.x, p.top_right.x, p.bottom_right.x, p.bottom_left.x]
        ys = [p.top_left.y, p.top_right.y, p.bottom_right.y, p.bottom_left.y]
        found.append(
            DecodedBarcode(
                text=result.text,
                format=str(result.format),
                centre_x_mm=sum(xs) / 4 * px_mm,
                centre_y_mm=sum(ys) / 4 * px_mm,
                left_x_mm=min(xs) * px_mm,
            )
        )
    return found


@pytest.fixture
def decode_pdf() -> Callable[[bytes, int], list[list[DecodedBarcode]]]:
    """``decode_pdf(pdf_bytes, dpi)``: every barcode on every page, page by page."""

    def decode(pdf: bytes, dpi: int = 300) -> list[list[DecodedBarcode]]:
        document = pdfium.PdfDocument(pdf)
        try:
            return [decode_page(document[i], dpi) for i in range(len(document))]
        finally:
            document.close()

    return decode
