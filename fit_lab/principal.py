"""Who is acting: a logged-in user, or the command line acting for the lab."""

from __future__ import annotations

import getpass
from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    practice_id: int | None = None
    user_id: int | None = None

    @property
    def is_gp(self) -> bool:
        return self.role == "gp"

    def may_see_practice(self, practice_id: int) -> bool:
        """A GP sees one practice; lab, scientist and admin see all; alliance sees no patient at all."""
        if self.role == "gp":
            return self.practice_id == practice_id
        return self.role in {"lab", "scientist", "admin"}


def command_line_principal(role: str = "admin") -> Principal:
    """The operator at the lab's terminal; the audit trail names the operating-system login."""
    try:
        login = getpass.getuser()
    except Exception:  # getuser raises different errors on different platforms when no login name exists
        login = "unknown"
    return Principal(username=f"cli:{login}", role=role)
