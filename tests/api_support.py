"""An app on the test's database with one user per role, and a way to log in as each."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from fit_lab.api.app import create_app
from fit_lab.db.models import Practice
from fit_lab.principal import Principal
from fit_lab.services import intake, users
from fit_lab.settings import Settings
from tests.conftest import ADMIN
from tests.helpers import PRACTICE_A, PRACTICE_B, referral_row

PASSWORD = "correct horse battery staple"
ROLES = {
    "lab": ("lab", None),
    "scientist": ("scientist", None),
    "admin": ("admin", None),
    "alliance": ("alliance", None),
    "gp_a": ("gp", PRACTICE_A),
    "gp_b": ("gp", PRACTICE_B),
}


@dataclass
class ApiWorld:
    client: TestClient
    engine: Engine
    tokens: dict[str, str] = field(default_factory=dict)
    referral_a: int = 0
    referral_b: int = 0

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def make_settings(**overrides: object) -> Settings:
    # The daily failsafe is started by the test that is about it, never behind another test's back.
    values: dict[str, object] = {"secret_key": "test-secret-key-for-the-suite-0123456789", "dev_mode": False,
                                 "failsafe_schedule": False}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def _password_hash() -> str:
    # Argon2 is slow by design; hash the shared test password once per run.
    return users.hash_password(PASSWORD)


def build_world(engine: Engine, **settings: object) -> ApiWorld:
    ids = {}
    for name, (role, ods) in ROLES.items():
        ids[name] = users.add_user(engine, name, role, PASSWORD, practice_ods=ods, actor=ADMIN,
                                   password_hash=_password_hash())
    a = intake.create_referral(engine, referral_row(), actor=ADMIN)
    b = intake.create_referral(
        engine, referral_row(practice_ods=PRACTICE_B, nhs_number="9990000018", external_ref="B-1"), actor=ADMIN
    )
    app_settings = make_settings(**settings)
    client = TestClient(create_app(app_settings, engine))
    world = ApiWorld(client, engine, referral_a=a.referral_id or 0, referral_b=b.referral_id or 0)
    for name, (role, ods) in ROLES.items():
        principal = Principal(name, role, practice_id(engine, ods) if ods else None, ids[name])
        world.tokens[name] = users.issue_token(principal, secret_key=app_settings.secret_key,
                                               token_minutes=5).access_token
    return world


def practice_id(engine: Engine, ods: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(Practice.id).where(Practice.ods_code == ods)).scalar_one())
