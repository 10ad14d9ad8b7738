"""The ``tuner`` command: ``serve``, ``doctor``, ``queue``, ``play``, ``stop``, ``status``,
``watch``, ``rotate-secret``, ``--version``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import trio

from tuner import __version__, queue_cli, remote_cli
from tuner.config import ConfigError, Settings, load_settings
from tuner.credentials import ensure_state_dir, load_pin
from tuner.web.listen import BindError

#: Exit status for anything the user must fix in the configuration or environment;
#: the systemd unit lists it in RestartPreventExitStatus= so it does not loop.
EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tuner", description="Watch a video where video is not allowed to play."
    )
    parser.add_argument("--version", action="version", version=f"tuner {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the daemon")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", help="port to listen on, 0 for any free one (default 8080)")
    serve.add_argument("--config", type=Path, help="TOML config file")
    serve.add_argument("--state-dir", type=Path, help="where the PIN and cookie secret live")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])

    rotate = commands.add_parser(
        "rotate-secret",
        help="log every browser out: replace the cookie secret (a running daemon notices)",
    )
    rotate.add_argument("--config", type=Path, help="TOML config file")
    rotate.add_argument("--state-dir", type=Path, help="where the PIN and cookie secret live")

    doctor = commands.add_parser("doctor", help="check what tuner needs and say what to fix")
    doctor.add_argument("--config", type=Path, help="TOML config file")
    queue_cli.add_parser(commands)
    remote_cli.add_parsers(commands)

    watch = commands.add_parser(
        "watch", help="draw what a running daemon plays in this terminal (q quits)"
    )
    watch.add_argument("query", nargs="?", metavar="URL", help="play this first, then watch")
    watch.add_argument("--preset", help="with URL: the preset to play it at")
    watch.add_argument("--mode", help="with URL: the mode to play it in")
    watch.add_argument(
        "--color",
        choices=["truecolor", "256", "16", "mono"],
        help="the terminal's colours (default: from COLORTERM and TERM)",
    )
    watch.add_argument("--url", help="the daemon's address (default: from the config)")
    watch.add_argument("--config", type=Path, help="TOML config file")
    return parser


def _setup_logging(level: str) -> None:
    # journald stamps lines itself; a terminal needs the time.
    timestamp = "" if os.environ.get("JOURNAL_STREAM") else "%(asctime)s "
    logging.basicConfig(
        level=level.upper(), format=f"{timestamp}%(levelname)s %(name)s: %(message)s"
    )


def _innermost(exc: BaseException) -> BaseException:
    """The one error inside nested single-exception groups (trio wraps startup errors)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _serve(args: argparse.Namespace) -> int:
    from tuner.daemon import run_until_signalled

    settings = load_settings(
        args.config,
        flags={
            "host": args.host,
            "port": args.port,
            "state_dir": args.state_dir,
            "log_level": args.log_level,
        },
    )
    _setup_logging(settings.log_level)
    ensure_state_dir(settings.state_dir)
    pin = load_pin(settings)
    if pin.created:
        print(
            f"tuner: your PIN is {pin.value} (stored in {pin.source}; shown only this once)",
            file=sys.stderr,
            flush=True,
        )
    else:
        logging.getLogger("tuner").info("PIN from %s", pin.source)
    trio.run(run_until_signalled, settings, pin)
    return 0


def _rotate_secret(args: argparse.Namespace) -> int:
    from tuner.credentials import rotate_secret

    try:
        settings = load_settings(args.config, flags={"state_dir": args.state_dir})
        ensure_state_dir(settings.state_dir)
        rotate_secret(settings.state_dir)
    except ConfigError as exc:
        print(f"tuner: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(
        f"tuner: new cookie secret in {settings.state_dir}: every browser must log in again "
        "(a running daemon closes their streams within a few seconds)"
    )
    return 0


def _watch(args: argparse.Namespace) -> int:
    from tuner.client import CommandError
    from tuner.term import ColorDepth, detect_color_depth
    from tuner.term._watch import options_from, watch

    depth = ColorDepth(args.color) if args.color else detect_color_depth(os.environ)
    try:
        settings = load_settings(args.config)
        options = options_from(settings, args.url, depth, args.query, args.preset, args.mode)
        return watch(options)
    except (CommandError, ConfigError) as exc:
        print(f"tuner: {exc}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "queue":
        return queue_cli.run(args)
    if args.command in ("play", "stop", "status"):
        return remote_cli.run(args)
    if args.command == "watch":
        return _watch(args)
    if args.command == "rotate-secret":
        return _rotate_secret(args)
    if args.command == "doctor":
        from tuner.doctor import run_doctor

        settings: Settings | None = None
        error: ConfigError | None = None
        try:
            settings = load_settings(args.config)
        except ConfigError as exc:
            error = exc
        return run_doctor(settings, error, sys.stdout)
    try:
        return _serve(args)
    except BaseException as exc:
        inner = _innermost(exc)
        from tuner.jobs import StoreError  # here: the daemon's imports are not --version's

        if isinstance(inner, (ConfigError, BindError, StoreError)):
            print(f"tuner: {inner}", file=sys.stderr)
            return EXIT_CONFIG
        raise
