"""Letter template versions: each template text is stored once, addressed by its SHA-256, and every letter names
the versions it was written with, so a letter already issued renders the same bytes after a template is edited.

Letters issued before this revision were rendered from the templates shipped with fit-lab, unchanged since letters
were first stored as content (0002); their texts are copied below, so those letters are pinned to them too.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

import fit_lab.db.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# triage/templates/<kind>.txt as shipped when this revision was written (do not edit: they are history).
SHIPPED_TEXTS = {
    'reassurance': "Title: FIT result: negative (below the referral threshold)\n\nDear colleague at $practice_name,\n\nYour patient's faecal immunochemical test (FIT) has been analysed. The result is $result. The referral threshold is $threshold, so this result is below it.\n\n## What the result means\n$explanation\n\nA FIT result below the threshold makes colorectal cancer unlikely but does not rule it out. With a normal full blood count and no ongoing clinical concern, the patient can be managed in primary care.\n\n## Safety-netting advice\n- Tell the patient the result and that it does not completely rule out bowel cancer.\n- Ask the patient to contact the practice if symptoms persist, change or worsen, or new symptoms appear (rectal bleeding, change in bowel habit, weight loss, abdominal pain).\n- Arrange a review of the symptoms within a time you judge appropriate, typically 3 to 6 weeks.\n\n## When to re-refer\nRefer on the suspected cancer pathway whatever this result if the patient has iron-deficiency anaemia, an abdominal, rectal or anal mass, anal ulceration, or you have a strong clinical concern. A repeat FIT may be requested if symptoms persist.\n\nQuestions about this result: $lab_name, $lab_contact.\n",
    'positive': "Title: FIT result: refer on the suspected lower-GI cancer pathway\n\nDear colleague at $practice_name,\n\nYour patient's faecal immunochemical test (FIT) has been analysed. The result is $result (referral threshold $threshold).\n\n## Band and priority\n- Band: $band\n- Priority for colonoscopy: $priority (P1 is seen first)\n\n## Why\n$explanation\n\n## What happens next\n- Refer the patient on the suspected lower-GI cancer pathway today if you have not already done so; include this FIT result with the referral.\n- The patient has been placed on the colonoscopy list in the order of their priority; the endoscopy team will contact the patient.\n- Please tell the patient the result and that further tests are needed. Acknowledge this letter in fit-lab so the laboratory knows it has been seen.\n\nQuestions about this result: $lab_name, $lab_contact.\n",
    'no_valid_result': "Title: FIT: no valid result, a repeat kit is needed\n\nDear colleague at $practice_name,\n\nYour patient's faecal immunochemical test (FIT) did not give a valid result: $result.\n\n## Why\n$explanation\n\n## What this means\n- No valid result means no reassurance: this test tells you nothing about the patient's risk.\n- The laboratory is sending the patient a repeat kit. Please encourage the patient to return it promptly.\n- Safety-net the patient in the meantime, and refer on the suspected cancer pathway without waiting if your clinical judgement says so.\n\nQuestions about this result: $lab_name, $lab_contact.\n",
    'amended': 'Title: Amended FIT result\n\n## Amended result\nThe result for this patient has been corrected by the laboratory. Reason for the amendment: $amendment_reason\n\nThis letter replaces letter $replaces_letter dated $replaces_letter_date. Please act on this letter and disregard the earlier one. The corrected letter follows.\n',
    'kit_rejected': "Title: FIT kit rejected: no result, a replacement kit has been sent\n\nDear colleague at $practice_name,\n\nThe FIT kit returned by your patient could not be analysed and was rejected on receipt. Reason: $rejection_reason\n\n## What this means\n- There is no FIT result, so there is no reassurance: the patient's risk is unknown.\n- A replacement kit is being posted to the patient. Please encourage the patient to complete and return it.\n- Safety-net the patient, and refer on the suspected cancer pathway without waiting if your clinical judgement says so.\n\nQuestions: $lab_name, $lab_contact.\n",
    'not_returned': "Title: FIT kit not returned: no result, please safety-net the patient\n\nDear colleague at $practice_name,\n\nA FIT kit was posted to your patient on $kit_dispatched_on and has not been returned to the laboratory. The request has been closed as not returned.\n\n## What this means\n- No result means no reassurance: the patient's risk of colorectal cancer is unknown.\n- Please contact the patient, review their symptoms and safety-net them.\n- If FIT is still appropriate, make a new request; refer on the suspected cancer pathway without waiting if your clinical judgement says so.\n\nQuestions: $lab_name, $lab_contact.\n",
}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_LETTER = sa.table("letter", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                   sa.column("content", sa.JSON), sa.column("supersedes_letter_id", sa.Integer),
                   sa.column("template_sha256", sa.String), sa.column("body_template_sha256", sa.String))


@contextmanager
def _letter_table_rebuilt() -> Iterator[None]:
    """SQLite adds or drops a foreign key by copying the table and dropping the old one. The copy's amended letters
    point at letters in the old table (supersedes_letter_id), so the drop would break them; the pointers are set
    aside for the copy and put back after (PRAGMA foreign_keys cannot be switched off inside the transaction)."""
    bind = op.get_bind()
    pointers: list[Any] = []
    if bind.dialect.name == "sqlite":
        pointers = list(bind.execute(sa.select(_LETTER.c.id, _LETTER.c.supersedes_letter_id)
                                     .where(_LETTER.c.supersedes_letter_id.is_not(None))).all())
        bind.execute(sa.update(_LETTER).values(supersedes_letter_id=None))
    yield
    for letter_id, supersedes in pointers:
        bind.execute(sa.update(_LETTER).where(_LETTER.c.id == letter_id).values(supersedes_letter_id=supersedes))


def upgrade() -> None:
    op.create_table(
        "letter_template",
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("stored_at", fit_lab.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    with _letter_table_rebuilt(), op.batch_alter_table("letter") as batch_op:
        batch_op.add_column(sa.Column("template_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("body_template_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.create_foreign_key(
            "fk_letter_template_sha256_letter_template", "letter_template", ["template_sha256"], ["sha256"]
        )
        batch_op.create_foreign_key(
            "fk_letter_body_template_sha256_letter_template", "letter_template", ["body_template_sha256"], ["sha256"]
        )
    _pin_existing_letters()


def _pin_existing_letters() -> None:
    """Name the shipped versions on every letter already stored as content (a reminder is stored as a PDF)."""
    bind = op.get_bind()
    letter = _LETTER
    template = sa.table("letter_template", sa.column("sha256", sa.String), sa.column("text", sa.Text),
                        sa.column("stored_at", fit_lab.db.types.UTCDateTime(timezone=True)))
    kinds = tuple(SHIPPED_TEXTS)
    if bind.execute(sa.select(sa.func.count()).select_from(letter).where(letter.c.kind.in_(kinds))).scalar_one() == 0:
        return
    now = datetime.now(UTC)
    op.bulk_insert(template, [{"sha256": _sha(text), "text": text, "stored_at": now} for text in SHIPPED_TEXTS.values()])
    for kind, text in SHIPPED_TEXTS.items():
        bind.execute(sa.update(letter).where(letter.c.kind == kind).values(template_sha256=_sha(text)))
    amended = bind.execute(sa.select(letter.c.id, letter.c.content).where(letter.c.kind == "amended")).all()
    for letter_id, content in amended:
        new_kind = ((content or {}).get("amendment") or {}).get("new_kind")
        if new_kind in SHIPPED_TEXTS:
            bind.execute(sa.update(letter).where(letter.c.id == letter_id)
                         .values(body_template_sha256=_sha(SHIPPED_TEXTS[new_kind])))


def downgrade() -> None:
    with _letter_table_rebuilt(), op.batch_alter_table("letter") as batch_op:
        batch_op.drop_constraint("fk_letter_body_template_sha256_letter_template", type_="foreignkey")
        batch_op.drop_constraint("fk_letter_template_sha256_letter_template", type_="foreignkey")
        batch_op.drop_column("body_template_sha256")
        batch_op.drop_column("template_sha256")
    op.drop_table("letter_template")
