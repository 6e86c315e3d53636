"""Every measure the alliance receives: its column name, title, kind and definition (the workbook's README sheet).

Column names depend on two local settings: the return windows (the failsafe's reminder and not-returned days,
14 and 28 by default) and the f-Hb thresholds (every band edge of the loaded triage policies: 10, 100 and 400
µg/g by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MONTH_NOTE = "Months are calendar months in UTC."


class Kind(StrEnum):
    COUNT = "count"
    RATE = "rate"  # a percentage of two counts
    DAYS = "days"  # a median or 90th percentile of a time in days, over the count in ``n``


@dataclass(frozen=True)
class Measure:
    column: str
    title: str
    kind: Kind
    definition: str
    numerator: str | None = None  # rates
    denominator: str | None = None
    n: str | None = None  # times: the count the statistic summarises


@dataclass(frozen=True)
class Interval:
    """A turnaround: from one event to the next, counted in the month the second event happened."""

    name: str
    title: str
    definition: str


INTERVALS = (
    Interval("referral_to_dispatch", "Referral to kit posted",
             "from the referral's arrival at the lab to the posting of its first kit, for first kits posted in the "
             "month"),
    Interval("dispatch_to_receipt", "Kit posted to kit back at the lab",
             "from posting to receipt at the lab, for kits received in the month"),
    Interval("receipt_to_result", "Kit back to result released",
             "from receipt at the lab to the release of the result, for results released in the month"),
    Interval("result_to_letter", "Result released to GP letter",
             "from the release of the result to the GP letter, for outcomes decided in the month"),
    Interval("referral_to_result", "Referral to result (time to result)",
             "from the referral's arrival at the lab to the release of its result, for results released in the "
             "month"),
    Interval("referral_to_listed", "Referral to colonoscopy list",
             "from the referral date to the decision to refer (joining the colonoscopy list), for patients "
             "referred in the month"),
)


def threshold_name(edge: float) -> str:
    return f"{edge:g}".replace(".", "_")


def catalogue(windows: tuple[int, ...], edges: tuple[float, ...]) -> tuple[Measure, ...]:
    """The measures of every breakdown table, in column order."""
    out = [
        Measure("referrals", "Referrals received", Kind.COUNT, "GP referrals for FIT received by the lab in the month"),
        Measure("kits_dispatched", "Kits posted", Kind.COUNT,
                "FIT kits posted to patients in the month, replacements and repeats included"),
        Measure("kits_returned", "Kits returned", Kind.COUNT,
                "kits received back at the lab in the month, whether accepted or rejected"),
        Measure("kits_rejected", "Kits rejected", Kind.COUNT, "kits rejected at reception in the month (any reason)"),
        Measure("kits_not_returned", "Kits not returned", Kind.COUNT,
                "kits closed as not returned in the month (the GP told to safety-net the patient)"),
        Measure("tests_analysed", "Tests analysed", Kind.COUNT, "kits analysed in the month"),
        Measure("results_valid", "Valid results", Kind.COUNT,
                "outcomes decided in the month on a valid f-Hb result (not an analyser error or an indeterminate "
                "censored value)"),
        Measure("no_valid_result", "No valid result (repeat kit)", Kind.COUNT,
                "outcomes decided in the month that asked for a repeat kit because the sample gave no valid result"),
        Measure("referred", "Referred for colonoscopy", Kind.COUNT,
                "outcomes decided in the month that refer the patient (f-Hb at or above the threshold, or a clinical "
                "override): additions to the colonoscopy list"),
    ]
    for edge in edges:
        out.append(Measure(f"positive_ge_{threshold_name(edge)}", f"Results ≥ {edge:g} µg/g", Kind.COUNT,
                           f"valid results with f-Hb at or above {edge:g} µg Hb/g faeces"))
    for days in windows:
        out.append(Measure(f"cohort_{days}d", f"Kits posted, {days} days elapsed", Kind.COUNT,
                           f"kits posted in the month for which {days} days have passed since posting"))
        out.append(Measure(f"returned_{days}d", f"Returned within {days} days", Kind.COUNT,
                           f"of those, kits received back at the lab within {days} days of posting"))
    for days in windows:
        out.append(Measure(f"return_rate_{days}d", f"Return rate within {days} days (%)", Kind.RATE,
                           f"returned within {days} days / kits posted with {days} days elapsed",
                           numerator=f"returned_{days}d", denominator=f"cohort_{days}d"))
    out.append(Measure("rejection_rate", "Rejection rate (%)", Kind.RATE, "kits rejected / kits returned",
                       numerator="kits_rejected", denominator="kits_returned"))
    for edge in edges:
        name = threshold_name(edge)
        out.append(Measure(f"positivity_ge_{name}", f"Positivity at {edge:g} µg/g (%)", Kind.RATE,
                           f"valid results with f-Hb ≥ {edge:g} / valid results",
                           numerator=f"positive_ge_{name}", denominator="results_valid"))
    for interval in INTERVALS:
        out.append(Measure(f"{interval.name}_n", f"{interval.title}: number timed", Kind.COUNT,
                           f"number of times measured {interval.definition}"))
        out.append(Measure(f"{interval.name}_median_days", f"{interval.title}: median (days)", Kind.DAYS,
                           f"median days {interval.definition}", n=f"{interval.name}_n"))
        out.append(Measure(f"{interval.name}_p90_days", f"{interval.title}: 90th percentile (days)", Kind.DAYS,
                           f"90th percentile of days {interval.definition}", n=f"{interval.name}_n"))
    return tuple(out)


DISCLOSURE_NOTE = (
    "Disclosure control (NHS Digital practice): counts of 1 to {max_small} are shown as '*', other counts are "
    "rounded to the nearest {round_to}; a second cell is suppressed where a total would let a reader work out a "
    "suppressed one; a rate is suppressed when its numerator, its denominator or their difference is suppressed or "
    "small; a median or percentile is suppressed when the number it summarises is. Rates, medians and "
    "percentiles are worked out from the unrounded numbers. No table holds an NHS number, name, date of birth or "
    "postcode."
)
