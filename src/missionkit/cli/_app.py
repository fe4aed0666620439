"""
The ``missionkit`` argument parser and entry point (SPEC §14).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from missionkit._models._literals import STATUSES
from missionkit._text import TEXT_LIMIT, exception_text
from missionkit.cli import _commands as commands
from missionkit.cli._commands import CliContext, UsageError
from missionkit.cli._output import error_text
from missionkit.errors import MissionkitError
from missionkit.store._listing import ORDER_KEYS, UNREADABLE

__all__ = ["build_parser", "main"]

EXIT_INTERRUPTED = 130

_GLOBAL_HELP = {
    "store": "SQLite database holding the sessions (default: ./missionkit.db)",
    "store_dir": "keep sessions in a directory of JSON files instead",
    "output": "result format on stdout (default: table)",
    "quiet": "no progress lines or notes on stderr",
    "debug": "print tracebacks for errors",
}


class _Parser(argparse.ArgumentParser):
    """
    An argument parser that raises `UsageError` instead of exiting.
    """

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, usage=self.format_usage().strip())


def _int_at_least(minimum: int, meaning: str) -> Callable[[str], int]:
    """
    An argparse type: an int of at least *minimum* (*meaning* names the rule in errors).
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{meaning}: {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1, "must be a positive integer")
_non_negative_int = _int_at_least(0, "must not be negative")


def _add_globals(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """
    Add the global options; on subcommands (*suppress*) they only override when given.
    """

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--store", metavar="PATH", default=default(None), help=_GLOBAL_HELP["store"]
    )
    parser.add_argument(
        "--store-dir", metavar="DIR", default=default(None), help=_GLOBAL_HELP["store_dir"]
    )
    parser.add_argument(
        "--output",
        choices=("table", "json"),
        default=default("table"),
        help=_GLOBAL_HELP["output"],
    )
    parser.add_argument(
        "--quiet", action="store_true", default=default(False), help=_GLOBAL_HELP["quiet"]
    )
    parser.add_argument(
        "--debug", action="store_true", default=default(False), help=_GLOBAL_HELP["debug"]
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("missionkit")
    except PackageNotFoundError:  # pragma: no cover - running from an unpacked tree
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """
    Build the ``missionkit`` parser with every command of SPEC §14.3.
    """
    parser = _Parser(
        prog="missionkit",
        description="Run, inspect and scaffold missionkit missions.",
    )
    _add_globals(parser, suppress=False)
    parser.add_argument("--version", action="version", version=f"missionkit {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, **kwargs: Any) -> argparse.ArgumentParser:
        child: argparse.ArgumentParser = sub.add_parser(
            name, help=help_text, description=help_text, **kwargs
        )
        _add_globals(child, suppress=True)
        return child

    run = command("run", "start (or resume) the mission a spec file describes and step it")
    run.add_argument("spec", metavar="SPEC", help="a .toml or JSON spec file")
    run.add_argument(
        "--resume", action="store_true", help="continue the stored session named by the spec"
    )
    run.add_argument(
        "--max-iterations",
        metavar="N",
        type=_positive_int,
        default=None,
        help="stop after N iterations",
    )
    audit = run.add_mutually_exclusive_group()
    audit.add_argument(
        "--audit",
        metavar="PATH",
        default=None,
        help="JSONL audit file (default: ./missionkit-audit.jsonl)",
    )
    audit.add_argument("--no-audit", action="store_true", help="write no audit file")
    run.set_defaults(handler=commands.cmd_run)

    validate = command("validate", "check a spec file without writing anything")
    validate.add_argument("spec", metavar="SPEC", help="a .toml or JSON spec file")
    validate.set_defaults(handler=commands.cmd_validate)

    sessions = command("sessions", "inspect stored sessions")
    ssub = sessions.add_subparsers(dest="sessions_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        child: argparse.ArgumentParser = ssub.add_parser(
            name, help=help_text, description=help_text
        )
        _add_globals(child, suppress=True)
        return child

    listing = action("list", "list stored sessions, newest first")
    listing.add_argument(
        "--status",
        choices=(*STATUSES, UNREADABLE),
        default=None,
    )
    listing.add_argument("--limit", metavar="N", type=_positive_int, default=None)
    listing.add_argument("--offset", metavar="N", type=_non_negative_int, default=0)
    listing.add_argument("--order-by", choices=ORDER_KEYS, default="created_at")
    listing.add_argument("--ascending", action="store_true", help="oldest (or lowest) first")
    listing.set_defaults(handler=commands.cmd_sessions_list)

    show = action("show", "one session without its iterations")
    show.add_argument("session_id", metavar="ID")
    show.set_defaults(handler=commands.cmd_sessions_show)

    history = action("history", "the iterations of one session")
    history.add_argument("session_id", metavar="ID")
    history.add_argument("--format", choices=("summary", "full"), default="summary")
    history.set_defaults(handler=commands.cmd_sessions_history)

    report = action("report", "the final report of a finished session")
    report.add_argument("session_id", metavar="ID")
    report.set_defaults(handler=commands.cmd_sessions_report)

    replay = action("replay", "rebuild a session's iterations from the JSONL audit file")
    replay.add_argument("session_id", metavar="ID")
    replay.add_argument(
        "--audit", metavar="PATH", default=None, help="default: ./missionkit-audit.jsonl"
    )
    replay.set_defaults(handler=commands.cmd_sessions_replay)

    scaffold = command("scaffold-criteria", "suggest starting criteria for a directive")
    scaffold.add_argument("--directive", metavar="TEXT", required=True)
    scaffold.add_argument(
        "--allowlist", metavar="NAME", action="append", default=None, help="repeatable"
    )
    scaffold.add_argument("--max-criteria", metavar="N", type=int, default=5)
    scaffold.add_argument(
        "--sampler", metavar="IMPORT", default=None, help="package.module:attribute"
    )
    scaffold.add_argument("--retries", metavar="N", type=int, default=3)
    scaffold.add_argument("--output-file", metavar="PATH", default=None)
    scaffold.set_defaults(handler=commands.cmd_scaffold)

    demo = command("demo", "run the built-in example mission")
    demo.add_argument(
        "--max-iterations",
        metavar="N",
        type=_positive_int,
        default=None,
        help="stop after N iterations",
    )
    demo.set_defaults(handler=commands.cmd_demo, audit=None, no_audit=False)
    return parser


def _prescan_output(arguments: Sequence[str]) -> str:
    """
    The ``--output`` value, read before parsing so usage errors use the right format.
    """
    mode = "table"
    for index, arg in enumerate(arguments):
        if arg == "--output" and index + 1 < len(arguments):
            mode = arguments[index + 1]
        elif arg.startswith("--output="):
            mode = arg.partition("=")[2]
    return mode if mode in ("table", "json") else "table"


def _fail(envelope: dict[str, Any], output: str) -> None:
    print(error_text(envelope, output), file=sys.stderr, flush=True)


def _dispatch(arguments: list[str], output: str, debug: bool) -> int:
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(arguments)
        except SystemExit as exc:  # --help, --version
            return exc.code if isinstance(exc.code, int) else 0
        output = args.output
        if args.store is not None and args.store_dir is not None:
            raise UsageError("--store and --store-dir are mutually exclusive", argument="--store")
        ctx = CliContext(
            output=args.output, quiet=args.quiet, store=args.store, store_dir=args.store_dir
        )
        code: int = args.handler(ctx, args)
        return code
    except UsageError as err:
        usage = err.details.pop("usage", None)
        if usage and output == "table":
            print(usage, file=sys.stderr)
        _fail({"code": "usage_error", "details": err.details}, output)
        return commands.EXIT_USAGE
    except BrokenPipeError:  # stdout closed early, e.g. piped into head
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - closed at exit
        return commands.EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except MissionkitError as err:
        if debug:
            traceback.print_exception(err, file=sys.stderr)
        _fail(err.to_dict(), output)
        cause = err.__cause__
        if output == "table" and cause is not None and not isinstance(cause, MissionkitError):
            print(f"  cause: {exception_text(cause, TEXT_LIMIT)}", file=sys.stderr, flush=True)
        return commands.EXIT_ERROR
    except Exception as exc:
        if debug:
            traceback.print_exception(exc, file=sys.stderr)
        _fail(
            {"code": "unexpected_error", "details": {"error": exception_text(exc, TEXT_LIMIT)}},
            output,
        )
        if output == "table" and not debug:
            print("  (run with --debug for the traceback)", file=sys.stderr, flush=True)
        return commands.EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the ``missionkit`` command line and return its exit code (SPEC §14.5).

    Args:
        argv: The arguments after the program name (default: ``sys.argv[1:]``).

    Returns:
        0 success; 1 validation, session, store, import or ``report_not_found``
        error; 2 usage error; 3 session terminated; 4 an iteration failed;
        5 stopped before a terminal verdict; 130 interrupted.

    .. versionadded:: 0.1.0
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in arguments
    logger = logging.getLogger("missionkit")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG if debug else logging.WARNING)
    previous_level = logger.level
    if debug:
        logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        return _dispatch(arguments, _prescan_output(arguments), debug)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
