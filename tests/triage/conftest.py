"""Fixtures for the triage library's tests: the shipped policies and an editable copy of one as a document."""

from __future__ import annotations

import copy
from datetime import date
from importlib import resources
from typing import Any

import pytest
import yaml

import triage

METHOD = "HM-JACKarc"
ANALYSED_ON = date(2025, 6, 2)


@pytest.fixture(scope="session")
def default_policies() -> triage.PolicySet:
    return triage.load_default_policies()


@pytest.fixture(scope="session")
def default_policy(default_policies: triage.PolicySet) -> triage.ThresholdPolicy:
    return default_policies.policy_for(METHOD, ANALYSED_ON)


@pytest.fixture(scope="session")
def _default_document() -> dict[str, Any]:
    text = resources.files("triage").joinpath("policies/default-hm-jackarc.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


@pytest.fixture
def policy_document(_default_document: dict[str, Any]) -> dict[str, Any]:
    """A fresh, valid policy document each test may break in its own way."""
    return copy.deepcopy(_default_document)


@pytest.fixture(scope="session")
def policy_document_factory(_default_document: dict[str, Any]) -> Any:
    """For Hypothesis tests, which must not use function-scoped fixtures: call it for a fresh document."""
    return lambda: copy.deepcopy(_default_document)
