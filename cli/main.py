"""Entry point of the ``gridkit`` command.

Exit codes: 0 success, 2 usage error, 3 bad input data (the message names the file,
the features and the field), 4 the output cannot be written (not writable, disk full,
a file where a folder is expected), 130 interrupted (Ctrl-C). ``--debug`` shows the
traceback as well.
"""

from __future__ import annotations

import argparse
import errno
import logging
import sys
import traceback
from collections.abc import Sequence

from gridkit_cli import _commands

from gridkit import __version__
from gridkit.errors import (
    DependencyError,
    GridkitError,
    InputDataError,
    InputFileError,
    OutputError,
    ParameterError,
)

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3
EXIT_OUTPUT = 4
EXIT_INTERRUPTED = 130

EXIT_CODES = f"""\
exit codes:
  {EXIT_OK}    success
  1    gridkit check: a rule is broken; any other verb: an internal error (a bug:
       please report it, with the output of --debug)
  {EXIT_USAGE}    usage error: an option or argument is wrong, or a dependency is missing
  {EXIT_BAD_INPUT}    bad input data: the message names the file, the features, the field and a fix
  {EXIT_OUTPUT}    the output cannot be written: not writable, disk full, a file where a folder
       is expected (or the other way round); the message names the path and a fix
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)
Outputs appear whole or not at all: a failed or interrupted run leaves nothing partial behind.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, every verb of the command-line contract included."""
    parser = _Parser(
        prog="gridkit",
        description="Grid management (网格化服务管理): household-balanced grids and the work built on them.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"gridkit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    for register in _commands.registry():
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return its exit code (the console script exits with it).

    Ctrl-C at any moment, while the parser is built, files are read or outputs are
    moved into place, ends with "gridkit: interrupted" and exit code 130.
    """
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        return _run(argv)
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print("gridkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        _check_output(args)
        return int(args.func(args) or EXIT_OK)
    except (InputDataError, InputFileError) as err:
        _report(err, args.debug)
        return EXIT_BAD_INPUT
    except OutputError as err:
        _report(err, args.debug)
        return EXIT_OUTPUT
    except (ParameterError, DependencyError) as err:
        _report(err, args.debug)
        return EXIT_USAGE
    except GridkitError as err:
        _report(err, args.debug)
        return EXIT_BAD_INPUT
    except Exception as err:  # a bug, not bad input: say so plainly, traceback on --debug
        output = _output_problem(err)
        if output is not None:
            _report(output, args.debug)
            return EXIT_OUTPUT
        if args.debug:
            raise
        print(f"gridkit: internal error: {type(err).__name__}: {err} (run with --debug for the traceback, "
              "and please report it)", file=sys.stderr)
        return 1


def _check_output(args: argparse.Namespace) -> None:
    """An output location that cannot be written stops the verb before its work, not after."""
    outdir, output = getattr(args, "outdir", None), getattr(args, "output", None)
    if outdir or output:
        from gridkit.io.write import check_writable

        check_writable(outdir or output, folder=bool(outdir))


def _output_problem(err: Exception) -> OutputError | None:
    """A full disk or read-only file system met outside gridkit's writers: still the output's problem."""
    if not isinstance(err, OSError) or err.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        return None
    where = err.filename or "the output"
    hint = "write elsewhere with -o" if err.errno == errno.EROFS else "free space on that disk, or write elsewhere with -o"
    return OutputError(f"cannot write: {err.strerror}", path=where, hint=hint)


def _report(err: Exception, debug: bool) -> None:
    if debug:
        traceback.print_exc()
    print(f"gridkit: error: {err}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
