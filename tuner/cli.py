"""The ``tuner`` command: ``serve``, ``doctor``, ``queue``, ``play``, ``stop``, ``status``,
``watch``, ``sessions``, ``rotate-secret``, ``--version``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
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

    _add_sessions_parser(commands)

    doctor = commands.add_parser("doctor", help="check what tuner needs and say what to fix")
    doctor.add_argument("--config", type=Path, help="TOML config file")
    queue_cli.add_parser(commands)
    remote_cli.add_parsers(commands)

    watch = commands.add_parser(
        "watch",
        help="draw what a running daemon plays in this terminal (q quits)",
        description=(
            "Draw what a running daemon plays in this terminal. Keys: q quit, m the next "
            "mode, p the next preset, s stop, n the queue's next item, \u2190 \u2192 seek "
            "10 s back / forward."
        ),
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


def _add_sessions_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sessions = commands.add_parser(
        "sessions",
        help="list who is logged in; 'sessions revoke ID' (or --all) logs them out at once",
    )
    revoke = sessions.add_subparsers(dest="action", metavar="ACTION").add_parser(
        "revoke", help="end a login (or every login): its cookie is refused, its streams close"
    )
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", metavar="ID", help="the login's id (or its start)")
    which.add_argument("--all", action="store_true", help="end every login")
    for parser, default in ((sessions, None), (revoke, argparse.SUPPRESS)):
        # On both, so that they may come before or after 'revoke'.
        parser.add_argument("--config", type=Path, default=default, help="TOML config file")
        parser.add_argument(
            "--state-dir", type=Path, default=default, help="tuner serve's state directory"
        )


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
    from tuner.logins import LoginStoreError, revoke_logins

    try:
        settings = load_settings(args.config, flags={"state_dir": args.state_dir})
        ensure_state_dir(settings.state_dir)
        rotate_secret(settings.state_dir)
        # Their cookies are dead: so are their logins (tuner sessions lists none).
        revoke_logins(settings.state_dir, None)
    except (ConfigError, LoginStoreError) as exc:
        print(f"tuner: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(
        f"tuner: new cookie secret in {settings.state_dir}: every browser must log in again "
        "(a running daemon closes their streams within a few seconds)"
    )
    return 0


def _sessions(args: argparse.Namespace) -> int:
    from tuner.logins import LoginStoreError, list_logins, revoke_logins

    try:
        settings = load_settings(args.config, flags={"state_dir": args.state_dir})
        if args.action == "revoke":
            ended = revoke_logins(settings.state_dir, None if args.all else args.id)
        else:
            logins = list_logins(settings.state_dir)
    except (ConfigError, LoginStoreError, LookupError) as exc:
        message = exc.args[0] if isinstance(exc, LookupError) else exc
        print(f"tuner: {message}", file=sys.stderr)
        return EXIT_CONFIG
    if args.action == "revoke":
        if not ended:
            print("tuner: no one is logged in")
        for login in ended:
            print(f"tuner: logged out {login.id} ({login.device}, {login.address})")
        if ended:
            print("tuner: a running daemon refuses their cookies and closes their streams now")
        return 0
    if not logins:
        print("no one is logged in")
        return 0
    now = time.time()
    rows = [("ID", "DEVICE", "ADDRESS", "LAST SEEN")] + [
        (login.id, login.device, login.address, _when(login.last_seen, now)) for login in logins
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        padded = (cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        print("  ".join([*padded, row[3]]))
    return 0


def _when(at: float, now: float) -> str:
    """A time as the local clock says it, and how long ago."""
    ago = max(0, int(now - at))
    if ago < 60:
        relative = "just now"
    elif ago < 3600:
        relative = f"{ago // 60} min ago"
    elif ago < 86400:
        relative = f"{ago // 3600} h ago"
    else:
        relative = f"{ago // 86400} days ago"
    return f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(at))} ({relative})"


def _watch(args: argparse.Namespace) -> int:
    from tuner.client import CommandError
    from tuner.term import ColorDepth, detect_color_depth
    from tuner.term._options import options_from
    from tuner.term._watch import watch

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
    if args.command == "sessions":
        return _sessions(args)
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
