"""camscan's command line: thin wrappers over the library; JSON on stdout, people on stderr."""

from __future__ import annotations

import importlib
import os
import sys

import typer

try:  # typer >= 0.20 carries its own click
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover - older typer on plain click
    from click import exceptions as click_exc  # type: ignore[no-redef]

# command -> the module that provides it. Only the invoked command's module is imported, so
# a scan starts sweeping before the other commands' dependencies have loaded.
_PROVIDERS: dict[str, str] = {
    "scan": "scan", "demo": "scan", "identify": "identify", "report": "report",
    "diff": "report", "history": "report", "lab": "lab", "fingerprints": "fingerprints",
}
_GROUPS = ("lab", "fingerprints")  # modules that are typer sub-apps of their own


def build_app(command: str | None = None) -> typer.Typer:
    """The typer app with `command`'s module, or with every command when None/unknown."""
    app = typer.Typer(
        name="camscan",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    @app.callback()
    def camscan() -> None:
        """Find Hikvision, Dahua and white-label surveillance devices, with evidence."""

    wanted = [_PROVIDERS[command]] if command in _PROVIDERS else list(
        dict.fromkeys(_PROVIDERS.values()))
    for name in wanted:
        module = importlib.import_module(f"camscan.cli.{name}")
        if name in _GROUPS:
            app.add_typer(module.app, name=name)
        else:
            module.register(app)
    return app


def __getattr__(name: str) -> typer.Typer:
    if name == "app":  # `from camscan.cli import app`: the whole command line
        return build_app()
    raise AttributeError(name)


def _command(args: list[str]) -> str | None:
    return next((a for a in args if not a.startswith("-")), None)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: every failure is one line on stderr and an exit code."""
    try:
        args = sys.argv[1:] if argv is None else argv
        app = build_app(_command(args))
        code = app(args=args, standalone_mode=False)
        if code == 130:  # typer turns a KeyboardInterrupt inside a command into exit code 130
            print("camscan: interrupted", file=sys.stderr)
    except click_exc.NoArgsIsHelpError:
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
