"""Settings, read from the environment with the ``FIT_LAB_`` prefix (or a ``.env`` file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fit_lab.errors import ConfigurationError

DEV_SECRET = "dev-only-secret-change-me-0123456789abcdef"  # noqa: S105 - refused outside dev mode


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FIT_LAB_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///fit-lab.db",
        description="SQLAlchemy URL: sqlite:///PATH (embedded default) or postgresql+psycopg://USER@HOST/DB",
    )
    data_dir: Path = Field(default=Path("var"), description="Where label files, letters and exports are written")
    policy_dir: Path | None = Field(default=None, description="Folder of triage policy files (default: shipped)")
    list_order_file: Path | None = Field(
        default=None, description="The colonoscopy list order (targets per priority; default: shipped example)")
    letter_template_dir: Path | None = Field(
        default=None, description="Folder of GP letter templates, <kind>.txt each (default: shipped, triage/templates)"
    )
    secret_key: str = Field(default=DEV_SECRET, min_length=32, description="Signs bearer tokens")
    dev_mode: bool = Field(default=False, description="Allows the built-in development secret key: ask for it "
                           "(FIT_LAB_DEV_MODE=true or fit-lab serve --dev); the service warns on every start")
    token_minutes: int = Field(default=30, ge=1, le=24 * 60)
    max_upload_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    max_page_size: int = Field(default=200, ge=1, le=5000)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_s: int = Field(default=900, ge=1)
    login_address_free_failures: int = Field(
        default=20, ge=1, description="Failed log-ins from one address in the window before its attempts are slowed")
    login_address_max_delay_s: int = Field(
        default=30, ge=1, le=3600,
        description="Longest wait between attempts from a slowed address (it doubles per failure up to this)")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses of reverse proxies whose X-Forwarded-For is believed (default: none, so the "
                    "address a log-in is throttled by is the connection's own)")
    lab_name: str = Field(default="Pathology Laboratory FIT Service", min_length=1)
    lab_address: str = Field(default="Clinical Biochemistry, Example General Hospital, Example Road, Leeds",
                             description="Return address lines, separated by commas")
    lab_postcode: str = Field(default="LS1 3EX")
    lab_phone: str = Field(default="0113 000 0000")
    lab_email: str = Field(default="fit.lab@example.nhs.uk")
    # The marking the lab's postal agreement requires on returned faecal samples (domain brief §5).
    return_un_number: str = Field(default="UN3373")
    return_shipping_name: str = Field(default="Biological Substance, Category B")
    # Asked of the patient; well inside the analysers' 14-15 day stability once post and lab time are allowed.
    patient_post_within_days: int = Field(default=2, ge=1, le=7)
    label_stock: str = Field(default="avery-l7163")
    # Reception and failsafe (domain brief §4; local defaults, configurable).
    sample_stability_days: int = Field(
        default=14, ge=1, le=120, description="Sample stability at room temperature: HM-JACKarc 14, OC-Sensor io 15"
    )
    receipt_max_age_days: int | None = Field(
        default=None, ge=1, le=120, description="The lab's own, stricter limit on sample age at receipt (optional)"
    )
    replacement_kits: bool = Field(default=True, description="Send a new kit automatically when one is rejected")
    reminder_after_days: int = Field(default=14, ge=1, description="Remind the patient after N days")
    not_returned_after_days: int = Field(default=28, ge=2, description="Close as not returned, tell the GP")
    analysis_target_days: int = Field(default=2, ge=1, description="Received kits should be analysed within this")
    report_target_days: int = Field(default=1, ge=0, description="Released results should reach the GP within this")
    dispatch_target_days: int = Field(default=1, ge=0, description="Referrals should get a kit within this")
    hold_review_days: int = Field(default=2, ge=0, description="Referrals on hold should be decided within this")
    release_target_days: int = Field(default=1, ge=0,
                                     description="Results held (QC) should be released or repeated within this")
    positive_ack_days: int = Field(default=2, ge=0,
                                   description="Positive letters the GP has not acknowledged after this are chased")
    no_result_ack_days: int = Field(default=5, ge=0, description="No-result letters (kit not returned, kit "
                                    "rejected) the GP has not acknowledged after this are chased")
    unmatched_alert_hours: int = Field(default=24, ge=1, description="An analyser result still unmatched after "
                                       "this many hours is an alert (one whose value would refer, at once)")
    failsafe_schedule: bool = Field(default=True, description="Run the daily failsafe inside fit-lab serve (at "
                                    "start-up, then each day); off only where cron runs `fit-lab failsafe run`")
    failsafe_check_every_s: float = Field(default=600.0, gt=0, le=3600,
                                          description="How often fit-lab serve checks whether today's run is done")
    # Analysers (issue: analyser driver).
    analyser_timezone: str = Field(default="Europe/London", description="Time zone of the analysers' clocks")
    qc_targets_file: Path | None = Field(default=None, description="QC targets YAML (default: shipped example)")
    # FHIR export (domain brief §6): the SNOMED CT code reported for "faecal immunochemical test result";
    # verify it against the current release before relying on it.
    fhir_fit_code: str = Field(default="1049361000000101")
    fhir_fit_display: str = Field(default="Faecal immunochemical test result")
    lab_ods_code: str = Field(default="RR801", description="The lab's ODS organisation code (performer)")
    qc_max_age_hours: int = Field(default=24, ge=1, description="Patient results need a passing QC this recent")
    # Alliance statistics (domain brief §7): NHS Digital disclosure control and the inequality watch.
    stats_suppress_max: int = Field(default=7, ge=1, description="Counts from 1 to this are shown as '*'")
    stats_round_to: int = Field(default=5, ge=1, description="Other counts are rounded to the nearest multiple")
    inequality_margin_pp: float = Field(default=5.0, gt=0,
                                        description="Flag a group whose return rate is this many points lower")
    inequality_margin_days: float = Field(default=3.0, gt=0,
                                          description="Flag a group whose median time to result is this much longer")

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must start with sqlite:// or postgresql+psycopg://")
        return value

    @field_validator("list_order_file")
    @classmethod
    def _list_order_loads(cls, value: Path | None) -> Path | None:
        # A list order that could leave a patient unlisted is refused at start-up, not when the list is read.
        if value is not None:
            import triage

            try:
                triage.load_list_order(value)
            except triage.ListOrderError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("letter_template_dir")
    @classmethod
    def _templates_load(cls, value: Path | None) -> Path | None:
        # A misspelt placeholder or a missing file is reported at start-up, not when a letter is due.
        if value is not None:
            import triage

            try:
                triage.LetterTemplates.load(value)
            except triage.LetterTemplateError as exc:
                raise ValueError(str(exc)) from None
        return value

    def check_secret(self) -> None:
        """Called by whatever signs or checks tokens (the web service): the development key only in dev mode."""
        if not self.dev_mode and self.secret_key == DEV_SECRET:
            raise ConfigurationError(
                "FIT_LAB_SECRET_KEY is the development key; set a long random secret before running for real."
            )


def load_settings() -> Settings:
    """Read settings, turning pydantic's report into one clear start-up error."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"FIT_LAB_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigurationError(f"Settings are wrong: {problems}") from exc
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
