"""`camscan fingerprints`: list and self-test the library; regenerate the OUI table."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from camscan import fingerprints

app = typer.Typer(no_args_is_help=True, help="The fingerprint library (fingerprints/).")


def _load(root: Path | None) -> fingerprints.Library:
    try:
        return fingerprints.load(root or fingerprints.DEFAULT_DIR)
    except fingerprints.LibraryError as exc:
        typer.echo(f"camscan: error: {exc}", err=True)
        raise typer.Exit(2) from None


RootOption = Annotated[
    Path | None, typer.Option("--dir", help="library directory (default: the shipped one)")
]


@app.command("list")
def list_command(root: RootOption = None) -> None:
    """Show the library: fingerprints and examples per key, fingerprints per maker."""
    lib = _load(root)
    console = Console()
    by_key = Table("key", "fingerprints", "examples", "counter-examples", title="per key")
    for f in lib.files:
        by_key.add_row(
            ", ".join(f.keys),
            str(len(f.fingerprints)),
            str(sum(len(fp.examples) for fp in f.fingerprints)),
            str(sum(len(fp.counter_examples) for fp in f.fingerprints)),
        )
    console.print(by_key)
    makers = Counter(fp.maker or "(none: brand/type only)" for fp in lib.fingerprints())
    by_maker = Table("maker", "fingerprints", title="per maker")
    for maker, count in sorted(makers.items(), key=lambda kv: (-kv[1], kv[0])):
        by_maker.add_row(maker, str(count))
    console.print(by_maker)
    console.print(
        f"{sum(makers.values())} fingerprints, {fingerprints.example_count(lib)} examples"
    )


@app.command("test")
def test_command(root: RootOption = None) -> None:
    """Self-test: every example matches its own fingerprint first with its fields; no
    counter-example reaches a Hikvision/Dahua rule; every risk advisory's examples hold.
    Exit 1 on any problem."""
    from camscan import risks

    lib = _load(root)
    problems = fingerprints.self_test(lib)
    advisories = (root or fingerprints.DEFAULT_DIR) / "risks" / "advisories.toml"
    if advisories.is_file():
        try:
            problems += risks.self_test(risks.load(advisories))
        except risks.RiskDataError as exc:
            problems.append(str(exc))
    for problem in problems:
        typer.echo(problem, err=True)
    count = fingerprints.example_count(lib)
    typer.echo(
        f"{sum(1 for _ in lib.fingerprints())} fingerprints, {count} examples, "
        f"{len(problems)} problems",
        err=True,
    )
    raise typer.Exit(1 if problems else 0)


@app.command("update-oui")
def update_oui_command(
    source: Annotated[
        str,
        typer.Option(
            "--from", help="directory or base URL holding the IEEE oui/mam/oui36/iab CSVs"
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="output directory")] = (
        fingerprints.DEFAULT_DIR / "oui"
    ),
) -> None:
    """Regenerate the OUI table (fingerprints/oui/ieee.tsv) from the IEEE registry CSVs."""
    from camscan import ouigen

    try:
        report = ouigen.generate(source, out)
    except ouigen.OuiGenError as exc:
        typer.echo(f"camscan: error: {exc}", err=True)
        raise typer.Exit(2) from None
    rows = ", ".join(f"{k} {v}" for k, v in sorted(report.rows.items()))
    typer.echo(f"wrote {report.path} ({rows}; source dated {report.source_date})", err=True)
