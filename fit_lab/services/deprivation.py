"""Deprivation at intake: postcode → LSOA (ONS postcode directory) → IMD decile (English Indices)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session

from fit_lab.db.models import ImdArea, PostcodeLsoa
from fit_lab.intake.fields import postcode_key

_CHUNK = 900  # stays under SQLite's bound-parameter limit on old builds


@dataclass(frozen=True)
class Deprivation:
    lsoa_code: str | None
    imd_decile: int | None
    imd_edition: str | None


UNKNOWN = Deprivation(None, None, None)


def latest_edition(session: Session) -> str | None:
    return session.execute(select(func.max(ImdArea.edition))).scalar_one_or_none()


def lookup(session: Session, postcodes: Iterable[str]) -> dict[str, Deprivation]:
    """Deprivation for each postcode; a postcode missing from the lookup maps to UNKNOWN (domain brief §9)."""
    keys = sorted({postcode_key(p) for p in postcodes})
    edition = latest_edition(session)
    lsoa_by_key: dict[str, str] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        rows = session.execute(
            select(PostcodeLsoa.postcode_key, PostcodeLsoa.lsoa_code).where(PostcodeLsoa.postcode_key.in_(chunk))
        )
        lsoa_by_key.update({k: v for k, v in rows})
    decile_by_lsoa: dict[str, int] = {}
    lsoas = sorted(set(lsoa_by_key.values()))
    for start in range(0, len(lsoas), _CHUNK):
        chunk = lsoas[start : start + _CHUNK]
        rows = session.execute(
            select(ImdArea.lsoa_code, ImdArea.imd_decile).where(
                ImdArea.edition == edition, ImdArea.lsoa_code.in_(chunk)
            )
        )
        decile_by_lsoa.update({k: v for k, v in rows})
    out: dict[str, Deprivation] = {}
    for key in keys:
        lsoa = lsoa_by_key.get(key)
        decile = decile_by_lsoa.get(lsoa) if lsoa else None
        out[key] = Deprivation(lsoa, decile, edition if decile is not None else None)
    return out
