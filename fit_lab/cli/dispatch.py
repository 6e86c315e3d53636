"""`fit-lab dispatch …`: create, reprint and cancel dispatch batches."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from fit_lab.cli.context import engine, settings
from fit_lab.principal import command_line_principal
from fit_lab.services import dispatch

app = typer.Typer(no_args_is_help=True, help="Kit dispatch batches: labels, letters and manifests.")


_BAR_LABELS = {"labels": "rendering labels", "letters": "rendering letters"}


class _Bars:
    """One progress bar per file being rendered (labels, then letters), opened when that file starts."""

    def __init__(self) -> None:
        self.part: str | None = None
        self.bar: Any = None

    def __call__(self, part: str, done: int, total: int) -> None:
        if part != self.part:
            self.close()
            self.part = part
            self.bar = typer.progressbar(length=max(total, 1), label=_BAR_LABELS.get(part, part), show_pos=True)
            self.bar.__enter__()
        self.bar.length = max(total, 1)
        self.bar.update(done - self.bar.pos)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _write(batch_id: int, out: Path | None, *, reprint: bool, label_format: str | None = None,
           dpi: int = dispatch.DEFAULT_ZPL_DPI) -> None:
    conf = settings()
    directory = out or conf.data_dir / "dispatch" / f"batch-{batch_id}"
    directory.mkdir(parents=True, exist_ok=True)
    bars = _Bars()
    try:
        files = dispatch.batch_files(engine(), batch_id, actor=command_line_principal("lab"), settings=conf,
                                     reprint=reprint, label_format=label_format, zpl_dpi=dpi, progress=bars)
    finally:
        bars.close()
    paths = {
        f"labels-{batch_id}.{files.label_format}": files.labels,
        f"letters-{batch_id}.pdf": files.letters_pdf,
        f"return-labels-{batch_id}.pdf": files.return_labels_pdf,
        f"manifest-{batch_id}.csv": files.manifest_csv,
    }
    for name, data in paths.items():
        (directory / name).write_bytes(data)
        typer.echo(f"  {directory / name}")


Dpi = Annotated[int, typer.Option("--dpi", help="Thermal printer resolution for --format zpl: 203 or 300")]


@app.command("create")
def create(
    limit: Annotated[int | None, typer.Option(help="At most this many kits (oldest referrals first)")] = None,
    label_format: Annotated[str, typer.Option("--format", help="pdf (A4 sheets) or zpl (thermal printer)")] = "pdf",
    out: Annotated[Path | None, typer.Option(help="Folder for the files (default: DATA_DIR/dispatch/batch-N)")] = None,
    dpi: Dpi = dispatch.DEFAULT_ZPL_DPI,
) -> None:
    """Allocate kits for referrals awaiting one; write labels, letters, return labels and the manifest."""
    dispatch.check_zpl_dpi(dpi)
    result = dispatch.create_batch(engine(), actor=command_line_principal("lab"), limit=limit,
                                   label_format=label_format)
    for referral_id, reason in result.held:
        typer.echo(f"referral {referral_id} held for a person: {reason}", err=True)
    if result.batch_id is None:
        typer.echo("no referrals are waiting for a kit")
        return
    typer.echo(f"dispatch batch {result.batch_id}: {result.kit_count} kits")
    _write(result.batch_id, out, reprint=False, dpi=dpi)


@app.command("reprint")
def reprint(
    batch_id: int,
    label_format: Annotated[str | None, typer.Option("--format", help="pdf or zpl (default: as created)")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for the files")] = None,
    dpi: Dpi = dispatch.DEFAULT_ZPL_DPI,
) -> None:
    """Print a batch again: the same kits and specimen IDs (audited). A cancelled batch is refused."""
    typer.echo(f"reprinting dispatch batch {batch_id}")
    _write(batch_id, out, reprint=True, label_format=label_format, dpi=dpi)


@app.command("cancel")
def cancel(batch_id: int, reason: Annotated[str, typer.Option(help="Why the batch is cancelled")]) -> None:
    """Void the batch's kits that have not come back and return their referrals to the queue."""
    result = dispatch.cancel_batch(engine(), batch_id, reason=reason, actor=command_line_principal("lab"))
    typer.echo(f"dispatch batch {batch_id} cancelled: {result.kits_voided} kits voided, referrals back in the queue")
    for kit in result.not_voided:
        typer.echo(f"  {kit.specimen_id} not voided: {kit.reason}")
