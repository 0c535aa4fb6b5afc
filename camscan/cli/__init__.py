"""camscan's command line: thin wrappers over the library; JSON on stdout, people's output on stderr."""

from __future__ import annotations

import typer

from camscan.cli import fingerprints, identify, lab, report, scan

app = typer.Typer(
    name="camscan",
    help="Find Hikvision, Dahua and white-label surveillance devices, with evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
scan.register(app)
identify.register(app)
report.register(app)
app.add_typer(lab.app, name="lab")
app.add_typer(fingerprints.app, name="fingerprints")


def main() -> None:
    """Console-script entry point."""
    app()
