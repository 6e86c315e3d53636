"""One lifecycle: no module but ``fit_lab/services/lifecycle.py`` writes a referral's status or a kit's state.

The source is read, not run, so a path no test happens to exercise is caught too. Issue 13, Done-when 4.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from fit_lab.db.models import Referral

REPO = Path(__file__).resolve().parent.parent
LIFECYCLE = REPO / "fit_lab" / "services" / "lifecycle.py"
# Other things have a `status` too; only these may be assigned one outside the lifecycle: a result's status
# (unmatched/held/released...), a dispatch batch's, the intake report's row outcome, a demographics change's.
OTHER_STATUS_OWNERS = ("result", "batch", "outcome", "item.outcome", "change")
REFERRAL_COLUMNS = frozenset(Referral.model_fields)


def _writes(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = [t for target in node.targets for t in (target.elts if isinstance(target, ast.Tuple)
                                                                 else [target])]
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr == "state":
                found.append((node.lineno, f"assigns {ast.unparse(target)}"))
            if (isinstance(target, ast.Attribute) and target.attr == "status"
                    and ast.unparse(target.value) not in OTHER_STATUS_OWNERS):
                found.append((node.lineno, f"assigns {ast.unparse(target)}"))
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            for keyword in node.keywords:
                if name in ("Kit", "Referral") and keyword.arg in ("state", "status"):
                    found.append((node.lineno, f"creates {name} with {keyword.arg}="))
                if name.endswith(".values") and keyword.arg in ("state", "status"):
                    found.append((node.lineno, f"bulk-updates {keyword.arg}="))
            if name == "setattr" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                    and node.args[1].value in ("state", "status"):
                found.append((node.lineno, "setattr of state/status"))
        if isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            # A row for a kit or referral table write (not an audit detail or a FHIR resource naming a status).
            if "state" in keys and keys & {"referral_id", "dispatch_batch_id", "state_changed_at", "version"}:
                found.append((node.lineno, "a kit row with a state"))
            if "status" in keys and keys <= REFERRAL_COLUMNS and keys & {"id", "patient_id", "closed_at",
                                                                           "hold_reason"}:
                found.append((node.lineno, "a referral row with a status"))
    return found


def _modules() -> list[Path]:
    return sorted(p for p in (REPO / "fit_lab").rglob("*.py") if p != LIFECYCLE and "migrations" not in p.parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_module_but_the_lifecycle_writes_a_referral_status_or_a_kit_state(path: Path):
    writes = _writes(ast.parse(path.read_text(encoding="utf-8")))
    assert writes == [], f"{path.relative_to(REPO)} changes state outside fit_lab/services/lifecycle.py: {writes}"


@pytest.mark.parametrize("source", [
    "kit.state = 'received'",
    "kit.state, kit.version = 'received', 2",
    "referral.status = 'closed'",
    "referral.status, referral.closed_at = 'closed', now",
    "Kit(specimen_id=s, state='allocated')",
    "Referral(status='awaiting_kit')",
    "session.execute(update(Referral).where(x).values(status='on_hold'))",
    "session.execute(update(Referral), [{'id': 1, 'status': 'closed', 'closed_at': now}])",
    "rows = [{'specimen_id': s, 'referral_id': r, 'state': 'dispatched'}]",
    "session.execute(update(Referral), [{'id': 1, 'status': 'in_progress'}])",
    "setattr(kit, 'state', 'received')",
])
def test_the_search_finds_each_way_of_writing_a_state(source: str):
    assert _writes(ast.parse(source)), source


@pytest.mark.parametrize("source", [
    "result.status = 'released'",
    "batch.status = 'cancelled'",
    "item.outcome.status = 'pending'",
    "request.state.visit = found",
    "app.state.settings = settings",
    "detail = {'not_voided': [{'specimen_id': k.specimen_id, 'state': k.state}]}",
    "resource = {'resourceType': 'DiagnosticReport', 'id': '1', 'status': 'final'}",
    "detail = {'status': row['status'], 'patient_id': 1, 'referral_id': 2}",
])
def test_the_search_leaves_other_statuses_alone(source: str):
    assert _writes(ast.parse(source)) == [], source


def test_the_lifecycle_itself_writes_states():
    assert _writes(ast.parse(LIFECYCLE.read_text(encoding="utf-8")))
