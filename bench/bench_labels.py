"""Benchmark: render one month of kit labels (7,000 labels = 3,500 kits x tube + address) to PDF.

    .venv/bin/python bench/bench_labels.py [--labels 7000]

Prints labels/s for fit-lab's vector renderer and, side by side in the same run, for the straightforward
alternative: python-barcode's ImageWriter PNG for each tube label, embedded with drawImage at the same positions
(address labels as plain text in both). Target: the month in under 10 s, and vector at least 5x faster.
"""

from __future__ import annotations

import argparse
import io
import time
from datetime import date

import barcode
from barcode.writer import ImageWriter
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

import labels


def kits(count: int) -> list[labels.KitLabel]:
    return [
        labels.KitLabel(
            specimen_id=labels.specimen_id_from_serial(serial),
            patient_name=f"Patient {serial}",
            date_of_birth=date(1950, 1, 1),
            nhs_number="9434765919",
            address_lines=(f"{serial} Mill Lane", "Leeds"),
            postcode="LS1 1AA",
        )
        for serial in range(1, count + 1)
    ]


def raster_alternative(items: list[labels.KitLabel], stock: labels.LabelStock) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(stock.page_width_mm * mm, stock.page_height_mm * mm))
    page = 0
    for placed in labels.plan_kit_sheets([k.specimen_id for k in items], stock):
        if placed.page != page:
            canvas.showPage()
            page = placed.page
        kit = items[placed.kit_index]
        x = placed.x_mm * mm
        top = (stock.page_height_mm - placed.y_mm) * mm
        if placed.kind == labels.LabelKind.TUBE:
            png = io.BytesIO()
            barcode.Code128(kit.specimen_id, writer=ImageWriter()).write(
                png, options={"module_width": 0.254, "module_height": 12.0, "quiet_zone": 5.0, "dpi": 600,
                              "write_text": False}
            )
            png.seek(0)
            canvas.drawImage(ImageReader(png), x + 3 * mm, top - 20 * mm, width=48 * mm, height=14 * mm)
            canvas.drawString(x + 3 * mm, top - 25 * mm, kit.specimen_id)
            canvas.drawString(x + 3 * mm, top - 30 * mm, f"{kit.patient_name}  {kit.date_of_birth:%d/%m/%Y}")
        else:
            for line, text in enumerate((kit.patient_name, *kit.address_lines, kit.postcode)):
                canvas.drawString(x + 5 * mm, top - (8 + 5 * line) * mm, text)
    canvas.save()
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=int, default=7000, help="labels to render (two per kit)")
    args = parser.parse_args()
    items = kits(args.labels // 2)
    stock = labels.load_stock(labels.DEFAULT_KIT_STOCK)
    started = time.perf_counter()
    vector = labels.render_kit_sheets_pdf(items, stock=stock)
    vector_s = time.perf_counter() - started
    started = time.perf_counter()
    raster = raster_alternative(items, stock)
    raster_s = time.perf_counter() - started
    n = len(items) * 2
    for name, seconds, pdf in (("vector (fit-lab)", vector_s, vector), ("raster (ImageWriter)", raster_s, raster)):
        print(f"{name:<22} {n} labels  {seconds:6.2f} s  {n / seconds:8.0f} labels/s  {len(pdf):>10,} bytes")
    print(f"vector is {raster_s / vector_s:.1f}x faster")


if __name__ == "__main__":
    main()
