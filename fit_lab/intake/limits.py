"""Plausibility limits for referral input (../shared/domain/fit-domain.md §9).

These decide what is an input error, not what is clinically significant, so they live here rather than in a
triage policy. Change them only with the domain brief.
"""

from __future__ import annotations

HAEMOGLOBIN_G_PER_L = (30.0, 250.0)
FERRITIN_UG_PER_L = (1.0, 5000.0)
ADULT_AGE_YEARS = 18
OLDEST_AGE_YEARS = 120
MAX_NAME_LENGTH = 100
MAX_ADDRESS_LENGTH = 200
MAX_EXTERNAL_REF_LENGTH = 64
MAX_REQUESTER_LENGTH = 200
