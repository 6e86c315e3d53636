"""The plain values the labels library renders. The application builds them; nothing here uses a database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .errors import LabelDataError
from .specimen_id import validate_specimen_id
from .text import format_nhs_number, pdf_text, printable

MAX_ADDRESS_LINES = 5


@dataclass(frozen=True)
class KitLabel:
    """Everything printed for one kit: the tube label, the outbound address label and the instruction letter.

    ``specimen_id`` must be a valid specimen ID (it is stored in canonical form); ``nhs_number`` is 10 digits,
    bare or spaced; ``address_lines`` exclude the postcode. Text is kept exactly as given (whitespace collapsed)
    and checked printable in the PDFs' Unicode font on creation; only ZPL folds it, when it renders.
    """

    specimen_id: str
    patient_name: str
    date_of_birth: date
    nhs_number: str
    address_lines: tuple[str, ...]
    postcode: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "specimen_id", validate_specimen_id(self.specimen_id))
        object.__setattr__(self, "nhs_number", format_nhs_number(self.nhs_number).replace(" ", ""))
        name = pdf_text(self.patient_name, "patient name")
        if not name:
            raise LabelDataError(f"kit {self.specimen_id}: patient name is empty")
        object.__setattr__(self, "patient_name", name)
        if not isinstance(self.date_of_birth, date):
            raise LabelDataError(f"kit {self.specimen_id}: date of birth must be a date")
        lines = tuple(pdf_text(line, "address line") for line in self.address_lines)
        lines = tuple(line for line in lines if line)
        if not lines or len(lines) > MAX_ADDRESS_LINES:
            raise LabelDataError(
                f"kit {self.specimen_id}: address needs 1 to {MAX_ADDRESS_LINES} lines before the postcode"
            )
        object.__setattr__(self, "address_lines", lines)
        postcode = pdf_text(self.postcode, "postcode").upper()
        if not postcode:
            raise LabelDataError(f"kit {self.specimen_id}: postcode is empty")
        object.__setattr__(self, "postcode", postcode)

    def check_thermal(self) -> None:
        """Raise LabelDataError if the name or address cannot be folded to a thermal printer's font (ZPL)."""
        for text, field in ((self.patient_name, "patient name"), *((x, "address line") for x in self.address_lines)):
            printable(text, field)


@dataclass(frozen=True)
class LabDetails:
    """The lab's return address and contact details, from the application's configuration."""

    name: str
    address_lines: tuple[str, ...]
    postcode: str
    phone: str
    email: str = ""
    opening_hours: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", pdf_text(self.name, "lab name"))
        object.__setattr__(self, "address_lines", tuple(pdf_text(x, "lab address line") for x in self.address_lines))
        object.__setattr__(self, "postcode", pdf_text(self.postcode, "lab postcode").upper())
        object.__setattr__(self, "phone", pdf_text(self.phone, "lab phone"))
        object.__setattr__(self, "email", pdf_text(self.email, "lab email"))
        object.__setattr__(self, "opening_hours", pdf_text(self.opening_hours, "lab opening hours"))
        if not self.name or not self.address_lines or not self.postcode or not self.phone:
            raise LabelDataError("lab details need a name, address, postcode and phone number")


@dataclass(frozen=True)
class ReturnMarking:
    """The marking the lab's postal agreement requires on the return envelope, from configuration.

    Usually ``un_number="UN3373"`` (printed inside the diamond) and
    ``shipping_name="Biological Substance, Category B"`` (printed next to it), packing instruction P650.
    """

    un_number: str
    shipping_name: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "un_number", printable(self.un_number, "UN number"))  # set in Helvetica-Bold
        object.__setattr__(self, "shipping_name", printable(self.shipping_name, "shipping name"))
        if not self.un_number or not self.shipping_name:
            raise LabelDataError("the return marking needs a UN number and a shipping name")
