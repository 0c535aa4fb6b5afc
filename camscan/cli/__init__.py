"""camscan's command line: thin wrappers over the library; JSON on stdout, people on stderr."""

from __future__ import annotations

import os
import sys

import typer

try:  # typer >= 0.20 carries its own click
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover - older typer on plain click
    from click import exceptions as click_exc  # type: ignore[no-redef]

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


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: every failure is one line on stderr and an exit code."""
    try:
        code = app(args=argv, standalone_mode=False)
    except click_exc.NoArgsIsHelpError:
        args = sys.argv[1:] if argv is None else argv
        app(args=[*args, "--help"], standalone_mode=False)
        sys.exit(2)
    except click_exc.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        print(f"camscan: error: {exc.format_message()}{hint}", file=sys.stderr)
        sys.exit(2)
    except click_exc.ClickException as exc:
        print(f"camscan: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print("camscan: interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("CAMSCAN_DEBUG"):
            raise
        print(f"camscan: error: {type(exc).__name__}: {exc} (CAMSCAN_DEBUG=1 shows where)",
              file=sys.stderr)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
