"""A letter already issued never changes: it is rendered from the template versions it was written with.

The lab edits its templates without code (FIT_LAB_LETTER_TEMPLATE_DIR); each version's text is kept once,
addressed by its SHA-256, and every letter names the versions it used. A GP who opens a letter next year reads the
bytes the practice was sent, and a new letter uses the text in force when it is issued.
"""

from __future__ import annotations

import hashlib
import shutil
from importlib import resources
from pathlib import Path

import pypdfium2
import pytest
from alembic import command
from sqlalchemy import func, select, text
from sqlmodel import Session

import triage
from analyser_drivers import OC_SENSOR
from fit_lab.clock import fixed_clock
from fit_lab.db.migrate import alembic_config
from fit_lab.db.models import Letter, LetterTemplateVersion, Result
from fit_lab.errors import ConfigurationError
from fit_lab.services import gp_view, letters, result_review
from fit_lab.services.analyser import qc_tubes
from fit_lab.services.results import store_message
from fit_lab.settings import Settings, load_settings
from tests.api_support import make_settings
from tests.conftest import NOW
from tests.results_support import AT as ANALYSED_AT
from tests.results_support import SCIENTIST, TARGETS, message, tube

EDIT = "Edited by the laboratory after the first letter was issued."


@pytest.fixture
def template_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(Path(str(resources.files("triage").joinpath("templates"))), folder)
    return folder


def _settings(template_dir: Path) -> Settings:
    return make_settings(analyser_timezone="UTC", letter_template_dir=template_dir)


def _analyse(engine, settings, specimen_id, raw):
    for tubes in (qc_tubes(OC_SENSOR, TARGETS, ANALYSED_AT), [tube(specimen_id, raw, 1)]):
        store_message(engine, message(OC_SENSOR, tubes), profile=OC_SENSOR, port_url="loop://", settings=settings,
                      qc_targets=TARGETS, clock=fixed_clock(NOW))


def _letters(engine):
    with Session(engine) as session:
        return list(session.execute(select(Letter).order_by(Letter.id)).scalars())


def _pdf(engine, letter_id):
    return gp_view.letter_pdf(engine, letter_id, actor=SCIENTIST)


def _text(pdf: bytes) -> str:
    return " ".join(" ".join(page.get_textpage().get_text_range() for page in pypdfium2.PdfDocument(pdf)).split())


def _edit(template_dir: Path, kind: str, sentence: str) -> None:
    path = template_dir / f"{kind}.txt"
    path.write_text(path.read_text(encoding="utf-8") + f"\n{sentence}\n", encoding="utf-8")


def test_an_issued_letter_is_byte_identical_after_the_template_is_edited_and_a_new_letter_uses_the_new_text(
    received, template_dir
):
    engine, ids = received
    settings = _settings(template_dir)
    _analyse(engine, settings, ids[0], "40")  # 8 µg/g: reassurance
    (first,) = _letters(engine)
    before = _pdf(engine, first.id)

    _edit(template_dir, "reassurance", EDIT)
    assert _pdf(engine, first.id) == before
    assert EDIT not in _text(before)

    _analyse(engine, settings, ids[1], "40")
    first, second = _letters(engine)
    assert EDIT in _text(_pdf(engine, second.id))
    assert first.template_sha256 != second.template_sha256
    assert second.template_sha256 == hashlib.sha256(
        (template_dir / "reassurance.txt").read_text(encoding="utf-8").encode()).hexdigest()
    assert _pdf(engine, first.id) == before


def test_an_amended_letter_keeps_both_template_versions_it_was_written_with(received, template_dir):
    engine, ids = received
    settings = _settings(template_dir)
    _analyse(engine, settings, ids[0], "40")
    with Session(engine) as session:
        result_id = session.execute(select(Result.id).where(Result.specimen_id == ids[0])).scalar_one()
    result_review.amend_result(engine, result_id, "150", "transcription error", actor=SCIENTIST, settings=settings,
                               clock=fixed_clock(NOW))
    amended = _letters(engine)[1]
    assert amended.kind == "amended" and amended.body_template_sha256 is not None
    before = _pdf(engine, amended.id)
    for kind in ("amended", "positive"):
        _edit(template_dir, kind, EDIT)
    assert _pdf(engine, amended.id) == before and EDIT not in _text(before)


def test_each_template_version_is_stored_once(received, template_dir):
    engine, ids = received
    settings = _settings(template_dir)
    _analyse(engine, settings, ids[0], "40")
    _analyse(engine, settings, ids[1], "45")
    first, second = _letters(engine)
    assert first.template_sha256 == second.template_sha256
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(LetterTemplateVersion)).scalar_one() == 1


def test_a_letter_read_after_its_session_closed_still_renders_from_its_versions(received, template_dir):
    engine, ids = received
    _analyse(engine, _settings(template_dir), ids[0], "40")
    (letter,) = _letters(engine)  # detached: its template versions were loaded with it
    _edit(template_dir, "reassurance", EDIT)
    assert letters.letter_pdf(letter) == _pdf(engine, letter.id)


def test_a_stored_version_that_does_not_match_its_hash_is_refused(received, template_dir):
    engine, ids = received
    _analyse(engine, _settings(template_dir), ids[0], "40")
    with engine.begin() as conn:
        conn.execute(text("UPDATE letter_template SET text = text || 'tampered'"))
    (letter,) = _letters(engine)
    with pytest.raises(triage.LetterTemplateError, match="does not match its hash"):
        letters.letter_pdf(letter)


def test_a_template_broken_after_start_up_issues_no_letter_and_names_the_file(received, template_dir):
    engine, ids = received
    settings = _settings(template_dir)
    (template_dir / "reassurance.txt").write_text("Title: Result\n\nDear $practise_name\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"FIT_LAB_LETTER_TEMPLATE_DIR.*reassurance\.txt.*\$practise_name"):
        _analyse(engine, settings, ids[0], "40")
    assert _letters(engine) == []


def test_the_template_folder_is_checked_when_the_settings_load(template_dir, monkeypatch):
    monkeypatch.setenv("FIT_LAB_LETTER_TEMPLATE_DIR", str(template_dir))
    assert load_settings().letter_template_dir == template_dir
    (template_dir / "positive.txt").write_text("Title: FIT\n\n$band_colour\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"FIT_LAB_LETTER_TEMPLATE_DIR.*positive\.txt.*\$band_colour"):
        load_settings()
    (template_dir / "positive.txt").unlink()
    with pytest.raises(ConfigurationError, match=r"positive\.txt is missing"):
        load_settings()


def test_the_shipped_templates_are_the_default():
    assert Settings().letter_template_dir is None
    shipped = triage.LetterTemplates.load()
    assert letters.current_template(triage.LetterKind.POSITIVE, Settings()).sha256 == \
        shipped[triage.LetterKind.POSITIVE].sha256


def test_letters_issued_before_template_versions_were_kept_are_pinned_to_the_shipped_texts(received, template_dir):
    """Migration 0004: a letter stored as content before it (re-created here by going down to 0003 and up again)
    renders the same bytes as before, from the shipped texts the migration keeps."""
    engine, ids = received
    _analyse(engine, make_settings(analyser_timezone="UTC"), ids[0], "40")
    with Session(engine) as session:
        result_id = session.execute(select(Result.id).where(Result.specimen_id == ids[0])).scalar_one()
    result_review.amend_result(engine, result_id, "150", "transcription error", actor=SCIENTIST,
                               settings=make_settings(analyser_timezone="UTC"), clock=fixed_clock(NOW))
    before = [(letter.id, letter.template_sha256, letter.body_template_sha256, letters.letter_pdf(letter))
              for letter in _letters(engine)]
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
    after = [(letter.id, letter.template_sha256, letter.body_template_sha256, letters.letter_pdf(letter))
             for letter in _letters(engine)]
    assert after == before
    assert all(sha for _, sha, _, _ in after) and any(body for _, _, body, _ in after)  # pinned, amended body too
