"""The colonoscopy list order file: what ships, and what is refused at load (issue 13).

The Faster Diagnosis Standard's 28 days is national (domain brief §8); the days per priority are a local choice,
so they live in a versioned file with an approver, like a threshold policy (§2).
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

import triage
from triage import ListOrderValidationError, load_default_list_order, load_list_order, parse_list_order


@pytest.fixture(scope="module")
def _shipped_document() -> dict[str, Any]:
    text = resources.files("triage").joinpath("list_orders/default.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


@pytest.fixture
def document(_shipped_document: dict[str, Any]) -> dict[str, Any]:
    """A fresh, valid list order document each test may break in its own way."""
    return copy.deepcopy(_shipped_document)


def _refusal(document: dict[str, Any]) -> str:
    with pytest.raises(ListOrderValidationError) as refused:
        parse_list_order(yaml.safe_dump(document), source="site.yaml")
    assert str(refused.value).startswith("list order site.yaml refused: ")
    return str(refused.value)


def test_the_shipped_list_order_is_versioned_approved_and_marked_a_local_choice() -> None:
    order = load_default_list_order()
    assert order.version == "default-list-order-1.0" and order.approved_by and order.effective_from
    assert [order.target_days(p) for p in range(1, 10)] == [7, 14, 21, 28, 28, 28, 28, 28, 28]
    assert order.fds_days == 28  # §8: diagnosed or ruled out within 28 days of the referral
    citations = {source.id: source.citation for source in order.sources}
    assert "LOCAL CHOICE" in citations[order.target_days_by_priority.source]
    assert "section 8" in citations[order.faster_diagnosis_standard.source]
    assert order.largest_overtake_days == 21


def test_the_package_exports_the_list_order() -> None:
    assert triage.load_default_list_order() == load_default_list_order()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d["target_days_by_priority"]["days"].pop(5), "priority 5 has no target"),
        (lambda d: d["target_days_by_priority"]["days"].update({10: 28}), "priority 10 in target_days_by_priority "
                                                                           "is not a triage priority (1 to 9)"),
        (lambda d: d["target_days_by_priority"]["days"].update({0: 1}), "priority 0 in target_days_by_priority"),
        (lambda d: d["target_days_by_priority"]["days"].update({1: 0}), "priority 1 has a target of 0 days: it "
                                                                         "must be above 0"),
        (lambda d: d["target_days_by_priority"]["days"].update({1: -7}), "priority 1 has a target of -7 days"),
        (lambda d: d["target_days_by_priority"]["days"].update({9: 35}), "priority 9 has a target of 35 days, "
                                                                          "beyond the 28-day Faster Diagnosis "
                                                                          "Standard"),
        (lambda d: d["target_days_by_priority"]["days"].update({1: 21}), "priority 1 has a target of 21 days, "
                                                                          "later than the less urgent priority 2"),
        (lambda d: d["target_days_by_priority"]["days"].update({2: 7.5}), "days[2]': Input should be a valid integer"),
        (lambda d: d["faster_diagnosis_standard"].update({"days": 0}), "faster_diagnosis_standard.days is 0"),
        (lambda d: d.update({"tie_break": "random"}), "unknown rule or field 'tie_break'"),
        (lambda d: d["target_days_by_priority"].update({"source": "nowhere"}),
         "target_days_by_priority cites unknown source 'nowhere'"),
        (lambda d: d.pop("version"), "'version' is required but missing"),
        (lambda d: d.pop("approved_by"), "'approved_by' is required but missing"),
        (lambda d: d.pop("faster_diagnosis_standard"), "'faster_diagnosis_standard' is required but missing"),
    ],
)
def test_a_list_order_that_could_leave_a_patient_unlisted_or_late_is_refused(
    document: dict[str, Any], change: Any, problem: str
) -> None:
    change(document)
    assert problem in _refusal(document)


def test_every_problem_is_reported_at_once(document: dict[str, Any]) -> None:
    document["target_days_by_priority"]["days"].pop(4)
    document["target_days_by_priority"]["days"][9] = 40
    refusal = _refusal(document)
    assert "priority 4 has no target" in refusal and "priority 9 has a target of 40 days" in refusal


def test_text_that_is_not_a_list_order_is_refused() -> None:
    with pytest.raises(ListOrderValidationError, match="must be a mapping"):
        parse_list_order("- 7\n- 14\n")
    with pytest.raises(ListOrderValidationError, match="not valid YAML"):
        parse_list_order("days: [7, 14\n")


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ListOrderValidationError, match=r"missing\.yaml refused: cannot be read"):
        load_list_order(tmp_path / "missing.yaml")


def test_a_site_file_loads(tmp_path: Path, document: dict[str, Any]) -> None:
    document["version"] = "site-list-order-2"
    document["target_days_by_priority"]["days"] = {p: 14 for p in range(1, 10)}
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    order = load_list_order(path)
    assert (order.version, order.target_days(1), order.largest_overtake_days) == ("site-list-order-2", 14, 0)
