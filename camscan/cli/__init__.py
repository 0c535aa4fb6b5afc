"""camscan's command line: thin wrappers over the library; JSON on stdout, people on stderr."""

from __future__ import annotations

import gc
import importlib
import os
import sys
from typing import Annotated

import typer
from typer._click import exceptions as click_exc  # typer >= 0.26 carries its own click

LAB_CLI = "camscan_lab.cli"
LAB_MISSING = "the lab is not installed: pip install 'camscan[lab]' (from a checkout: '.[lab]')"

# command -> the module that provides it. Only the invoked command's module is imported, so
# a scan starts sweeping before the other commands' dependencies have loaded.
_PROVIDERS: dict[str, str] = {
    "scan": "camscan.cli.scan",
    "identify": "camscan.cli.identify",
    "report": "camscan.cli.report",
    "diff": "camscan.cli.report",
    "history": "camscan.cli.report",
    "fingerprints": "camscan.cli.fingerprints",
    "export": "camscan.cli.export",
    "inventory": "camscan.cli.inventory",
    "check": "camscan.cli.check",
    "pcap": "camscan.cli.passive",
    "listen": "camscan.cli.passive",
    "push": "camscan.cli.push",
    "server": "camscan.cli.server",
    # The lab is a package of its own (camscan_lab, the `camscan[lab]` extra), never imported
    # by the product: these two commands exist only when it is installed.
    "lab": LAB_CLI,
    "demo": LAB_CLI,
}
_GROUPS = {
    "camscan.cli.fingerprints": "fingerprints",  # typer sub-apps of their own
    "camscan.cli.inventory": "inventory",
    "camscan.cli.server": "server",
}


def build_app(command: str | None = None) -> typer.Typer:
    """The typer app with `command`'s module, none for "--version", else every command."""
    app = typer.Typer(
        name="camscan",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    @app.callback()
    def camscan(
        version: Annotated[
            bool,
            typer.Option(
                "--version",
                is_eager=True,
                callback=_print_version,
                help="Print camscan's version and exit.",
            ),
        ] = False,
    ) -> None:
        """Find Hikvision, Dahua and white-label surveillance devices, with evidence."""

    if command == "--version":  # the eager option answers before any command is looked at
        wanted = []
    elif command in _PROVIDERS:
        wanted = [_PROVIDERS[command]]
    else:
        wanted = list(dict.fromkeys(_PROVIDERS.values()))
    for name in wanted:
        try:
            module = importlib.import_module(name)
        except ImportError:
            if name != LAB_CLI:
                raise
            _offer_lab_install(app)
            continue
        if name in _GROUPS:
            app.add_typer(module.app, name=_GROUPS[name])
        else:
            module.register(app)
    return app


def _print_version(value: bool) -> None:
    if value:
        from camscan import __version__

        typer.echo(f"camscan {__version__}")
        raise typer.Exit(0)


def _offer_lab_install(app: typer.Typer) -> None:
    """`camscan demo`/`camscan lab …` without the lab: one line saying how to install it."""
    for command in ("demo", "lab"):

        @app.command(
            command,
            help="Needs the lab: pip install 'camscan[lab]'.",
            context_settings={
                "allow_extra_args": True,
                "ignore_unknown_options": True,
                "help_option_names": [],
            },
        )
        def missing() -> None:
            typer.echo(f"camscan: error: {LAB_MISSING}", err=True)
            raise typer.Exit(2)


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
        command = _command(args)
        version_only = command is None and "--version" in args and "--help" not in args
        app = build_app("--version" if version_only else command)
        # What importing made (modules, classes, tables) lives until exit: frozen, the cyclic
        # collector stops walking it at every collection the run triggers (~5% of the CPU of
        # `camscan pcap` on a small capture, measured with callgrind).
        gc.freeze()
        code = app(args=args, standalone_mode=False)
        if code == 130:  # typer turns a KeyboardInterrupt inside a command into exit code 130
            print("camscan: interrupted", file=sys.stderr)
    except click_exc.NoArgsIsHelpError:
        app(args=[*args, "--help"], standalone_mode=False)
        sys.exit(2)
    except click_exc.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        if _command(args) == "check":  # a monitoring plugin's bad arguments are UNKNOWN (3)
            print(f"CAMSCAN UNKNOWN - {exc.format_message()}")
            sys.exit(3)
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
        print(
            f"camscan: error: {type(exc).__name__}: {exc} (CAMSCAN_DEBUG=1 shows where)",
            file=sys.stderr,
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
