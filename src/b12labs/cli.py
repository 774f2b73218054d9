"""The ``b12labs`` command line: score exports, explain one panel, list profiles, print the schema.

Contract 2: the command line never prints a traceback. Exit codes: 0 every row interpreted;
1 some rows could not be interpreted (``--strict``: the first such row stops the run); 2 usage,
input, environment (a missing extra, an unreadable or unwritable file, a full disk) and profile
errors, always one line on standard error that names the flag to use; 128 + N when stopped by
signal N (130 for Ctrl-C).

Contract 3: every input line gives exactly one output row (a malformed line is an error row of
its own); the output is written to a temporary file beside the target and renamed into place
at the end, so an interrupted or failed run leaves earlier output untouched and no temporary
file behind. See docs/cli.md.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ._analytes import MARKERS
from ._exceptions import B12LabsError, ColumnError, InvalidValueError, ProfileError
from ._io import InputError
from ._version import __version__
from ._writer import COLUMN_SELECTIONS, _Writer

if TYPE_CHECKING:
    from concurrent.futures import Future

#: Keys of the value columns that take a unit (the markers and creatinine).
_UNIT_KEYS = (*(str(m) for m in MARKERS), "creatinine")

__all__ = ["main"]

logger = logging.getLogger("b12labs")

EXIT_OK, EXIT_ROW_ERRORS, EXIT_USAGE = 0, 1, 2
_FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".jsonl": "jsonl",
            ".ndjson": "jsonl", ".xlsx": "excel", ".hl7": "hl7"}  # fmt: skip
_DEFAULT_CHUNK = 50_000
_PANDAS_EXTRA = 'pip install "b12labs[pandas]"'
_RESULTS = ("b12", "holotc", "mma", "hcy", "folate", "creatinine")


class UsageError(Exception):
    """A problem with the command, its input or its environment: exit 2, one-line message."""


class _Interrupted(BaseException):
    """A termination signal (SIGTERM, SIGINT, SIGHUP) received during a run."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


# ----------------------------------------------------------------------------- argument parsing


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (contract 2) instead of usage + error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"b12labs: error: {message} (see: {self.prog} --help)\n")


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip().strip('"')


def _parser() -> argparse.ArgumentParser:
    from ._profile import DEFAULT_PROFILE, list_profiles

    parser = _Parser(
        prog="b12labs",
        description="Interpret vitamin B12 status blood tests (decision support, not a diagnosis).",
    )
    parser.add_argument("--version", action="version", version=f"b12labs {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    score = commands.add_parser(
        "score",
        help="score every row of a CSV/TSV, Parquet or Excel export",
        description="Score every row of an export. Output: CSV, Parquet or JSON Lines "
        "(by the output's extension or --format); standard output when no output is given. "
        "Exit 0: all rows interpreted; 1: some rows could not be; 2: usage, input or "
        "environment error (one line on standard error).",
    )
    score.add_argument(
        "input",
        help="CSV/TSV (delimiter sniffed; UTF-8, UTF-16 or cp1252), .parquet, .xlsx, or .hl7 "
        "(HL7 v2 ORU^R01 messages: one row per patient-order, see docs/hl7.md)",
    )
    score.add_argument(
        "-o", "--output", help="output file (.csv, .parquet, .jsonl); default stdout"
    )
    score.add_argument("--format", choices=("csv", "parquet", "jsonl"), help="output format")
    score.add_argument(
        "--profile",
        default=DEFAULT_PROFILE,
        help=f"profile id ({', '.join(list_profiles())}) or a profile file (.toml/.json)",
    )
    score.add_argument(
        "--column",
        action="append",
        type=_pair,
        default=[],
        metavar='KEY="Label"',
        help='map a column, e.g. --column b12="Vitamin B12" or --column b12_unit=Unit',
    )
    score.add_argument(
        "--unit",
        action="append",
        type=_pair,
        default=[],
        metavar="KEY=UNIT",
        help="fixed unit of an analyte, e.g. --unit mma=nmol/L",
    )
    score.add_argument(
        "--columns",
        choices=COLUMN_SELECTIONS,
        default="standard",
        help="result columns written after the input's: 'standard' (default) those of the "
        "markers and context found; 'minimal' status, error and rules version only (the "
        "smallest, fastest output); 'all' every result column, empty where absent, so that "
        "outputs of different exports line up",
    )
    score.add_argument(
        "--chunk-size",
        type=int,
        default=_DEFAULT_CHUNK,
        metavar="ROWS",
        help="rows per chunk; memory stays constant whatever the file size "
        f"(default {_DEFAULT_CHUNK:,})",
    )
    score.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first row that cannot be interpreted (exit 1)",
    )
    score.add_argument(
        "--allow-formulas",
        action="store_true",
        help="do not neutralize text cells that spreadsheets would run as formulas",
    )
    score.add_argument(
        "--delimiter", help="CSV delimiter, one character or 'tab' (default: sniffed)"
    )
    score.add_argument("--no-progress", action="store_true", help="no progress line")
    score.add_argument("--quiet", action="store_true", help="no summary on standard error")

    explain = commands.add_parser(
        "explain",
        help="explain the interpretation of one panel",
        description="Interpret one panel and print a readable report (or --json). "
        "Give at least one result.",
    )
    for marker, example in (("b12", "150 pmol/L"), ("holotc", "32 pmol/L"), ("mma", "0.5 umol/L"),
                            ("hcy", "14 umol/L"), ("folate", "4.1 ng/mL"), ("creatinine", "1.1 mg/dL")):  # fmt: skip  # noqa: E501
        explain.add_argument(
            f"--{marker}", metavar="RESULT", help=f'e.g. "{example}" or "<{example}"'
        )
    explain.add_argument("--age", type=float, help="years")
    explain.add_argument("--sex", help="female or male")
    explain.add_argument("--pregnant", action=argparse.BooleanOptionalAction, default=None)
    explain.add_argument("--egfr", type=float, help="mL/min/1.73 m2")
    explain.add_argument(
        "--symptom",
        action="append",
        dest="symptoms",
        help='repeatable, or several in one: "tremor; twitching"; "none" = none reported',
    )
    explain.add_argument(
        "--risk-factor",
        action="append",
        dest="risk_factors",
        help='repeatable, or several in one: "metformin, ppi"; "none" = none reported',
    )
    explain.add_argument(
        "--recent-b12-treatment", action=argparse.BooleanOptionalAction, default=None
    )
    explain.add_argument("--nitrous-oxide", action=argparse.BooleanOptionalAction, default=None)
    explain.add_argument("--profile", default=DEFAULT_PROFILE, help="profile id or file")
    explain.add_argument("--json", action="store_true", help="print the result as JSON")
    explain.add_argument(
        "--series",
        metavar="FILE",
        help="one patient's results on several dates (CSV, Parquet or .xlsx, one row per date): "
        "explain the changes over time (docs/series.md)",
    )
    explain.add_argument(
        "--date", metavar="COLUMN", help="with --series: the collection date column"
    )
    explain.add_argument(
        "--treatment-started", metavar="DATE", help="with --series: B12 treatment start, YYYY-MM-DD"
    )
    explain.add_argument(
        "--treatment-route", choices=("oral", "injection"), help="with --series: how B12 is given"
    )

    profiles = commands.add_parser(
        "profiles",
        help="list the profiles, or show one with citations",
        description="List the profiles; with an id (or --show ID), print its thresholds.",
    )
    profiles.add_argument("id", nargs="?", metavar="ID", help="print the thresholds of a profile")
    profiles.add_argument("--show", metavar="ID", help="the same as giving ID")
    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of a result (--output, the default) or of a panel (--input)",
        description="Print a published JSON Schema (draft 2020-12, with $id; see "
        "docs/versioning.md).",
    )
    which = schema.add_mutually_exclusive_group()
    which.add_argument(
        "--input", action="store_true", help="the schema of the input, a panel as JSON"
    )
    which.add_argument("--output", action="store_true", help="the schema of a result (the default)")
    serve = commands.add_parser(
        "serve",
        help="run the web service (REST, FHIR operation, CDS Hooks)",
        description="Run the b12labs web service until stopped (needs: pip install "
        '"b12labs[service]"; see docs/service.md).',
    )
    serve.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--profile", default=DEFAULT_PROFILE, help="default profile id or file")
    serve.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    return _main(argv, console=False)


def _main(argv: Sequence[str] | None, *, console: bool) -> int:
    with _signals_raise():
        command = None
        try:
            parser = _parser()
            args = parser.parse_args(argv)
            command = args.command
            os.environ.setdefault("B12LABS_UNIT_CACHE", ":auto:")  # see b12labs._units._registry
            if console and command == "score":
                if _arrow_only(args):
                    _hide_pandas()
                # pydantic searches every installed distribution's entry points for plugins
                # when it builds its first validator (13 ms with 140 packages installed): a
                # run only validates b12labs' own profile models, so the console script skips
                # the search (a setting the user made is kept).
                os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
                # numpy's OpenBLAS starts worker threads that spin, waiting for work, when
                # numpy is imported; scoring does no linear algebra, and on two cores the spin
                # cost 0.08-0.1 s of CPU per 1M-row run (issue 13). OpenBLAS reads the setting
                # when numpy loads, later in the run; a setting the user made is kept.
                os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
            if command == "score":
                return _score(args)
            if command == "explain":
                return _explain(args)
            if command == "profiles":
                return _profiles(args)
            if command == "serve":
                return _serve(args)
            if command == "schema":
                from ._interpret import panel_json_schema, result_json_schema

                published = panel_json_schema() if args.input else result_json_schema()
                _print(json.dumps(published, indent=2))
                return EXIT_OK
            _print(parser.format_help().rstrip("\n"))
            return EXIT_USAGE
        except _Interrupted as stop:
            name = signal.Signals(stop.signum).name
            _error(f"interrupted ({name}); an output file is left as it was")
            return 128 + stop.signum
        except KeyboardInterrupt:
            _error("interrupted; an output file is left as it was")
            return 128 + signal.SIGINT
        except BrokenPipeError:  # output piped into `head`: not an error worth a message
            return EXIT_OK
        except (UsageError, InputError, ColumnError, ProfileError) as error:
            _error(_cli_message(error, command))
            return EXIT_USAGE
        except B12LabsError as error:  # --strict (a row), or a bad explain value
            _error(_cli_message(error, command))
            return EXIT_ROW_ERRORS if command == "score" else EXIT_USAGE
        except MemoryError:
            _error("out of memory: give a smaller --chunk-size")
            return EXIT_USAGE
        except OSError as error:  # the environment: a file that cannot be read or written
            _error(_os_message(error))
            return EXIT_USAGE
        except Exception as error:  # a bug of ours: one line all the same (contract 2)
            _log_internal(error)
            _error(
                f"internal error ({type(error).__name__}: {_one_line(str(error))}); please "
                "report it at https://github.com/b12labs/b12labs/issues"
            )
            return EXIT_USAGE


def _error(message: str) -> None:
    with contextlib.suppress(OSError):
        print(f"b12labs: error: {_one_line(message)}", file=sys.stderr, flush=True)


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _print(text: str) -> None:
    """Print to standard output; a failure to write is an environment error (exit 2)."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        raise
    except OSError as error:
        raise UsageError(f"cannot write to standard output ({error.strerror or error})") from None


def _os_message(error: OSError) -> str:
    reason = error.strerror or str(error) or type(error).__name__
    if error.filename:
        return f"{error.filename}: {reason}"
    return reason


def _log_internal(error: BaseException) -> None:
    """Where a bug struck: the exception type and the code location, never its message
    (messages may quote cell values)."""
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}" if frame else "?"
    logger.error("internal error %s at %s", type(error).__name__, where)


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGTERM, SIGINT and SIGHUP raise :class:`_Interrupted`, so that clean-up code runs
    (the temporary output file is removed). Further signals are ignored while it runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: Any) -> None:
        for other in previous:
            signal.signal(other, signal.SIG_IGN)
        raise _Interrupted(signum)

    for name in ("SIGTERM", "SIGINT", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None:
            with contextlib.suppress(ValueError, OSError):
                previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(signum, old)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold signals for a few statements (a temporary file and the note of its name)."""
    mask = getattr(signal, "pthread_sigmask", None)
    wanted = {getattr(signal, n) for n in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, n)}
    if mask is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = mask(signal.SIG_BLOCK, wanted)
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, old)


# ----------------------------------------------------------------------------- error messages

# The library speaks Python (columns={...}, units={...}); the command line speaks flags.
_PYTHON_TO_FLAGS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"columns=\{'([^']+)': '([^']*)'(?:, \.\.\.)?\}", r'--column \1="\2"'),
        (r"columns=\{'([^']+)': \.\.\.\}", r'--column \1="..."'),
        (r"units=\{'([^']+)': '[^']*'\}", r"--unit \1=UNIT"),
        (
            r"\bcolumns=: '([^']+)' maps to '([^']*)', which is not a column of the "
            r"(?:Data)?[Ff]rame",
            r"""--column \1="\2": the input has no column '\2'""",
        ),
        (r"\bcolumns=", "--column"),
        (r"\bunits=", "--unit"),
        (r"\bprofile=", "--profile"),
        (r"\berrors='raise'", "--strict"),
        (r"\b(in|of) the (?:Data)?[Ff]rame\b", r"\1 the input"),
        (r"\bDataFrame\b", "input"),
    )
)
_ACCEPTED_UNITS = re.compile(r"(?:see )?b12labs\.accepted_units\('(\w+)'\)")
_FLAG_OF = {"symptoms": "--symptom", "risk_factors": "--risk-factor"}


def _flag(field: str) -> str:
    return _FLAG_OF.get(field, "--" + field.replace("_", "-"))


def _cli_message(error: BaseException, command: str | None) -> str:
    """The message of ``error`` in the command line's terms (flags, not Python arguments)."""
    text = _one_line(str(error))

    def units(match: re.Match[str]) -> str:
        from ._units import accepted_units

        try:
            return ", ".join(accepted_units(match[1]))
        except Exception:  # an analyte without units: keep a pointer to the list
            return f"b12labs explain --help ({match[1]})"

    text = _ACCEPTED_UNITS.sub(units, text)
    for pattern, replacement in _PYTHON_TO_FLAGS:
        text = pattern.sub(replacement, text)
    if isinstance(error, ProfileError) and "--profile" not in text:
        text = f"--profile: {text}"
    elif command == "explain" and isinstance(error, B12LabsError) and error.analyte:
        flag = _flag(error.analyte)
        text = text.removeprefix(f"{error.analyte}: ")
        text = f"{flag}: {text}"
    return text


# ----------------------------------------------------------------------------- profiles, explain


def _profile(value: str, flag: str = "--profile") -> Any:
    from ._profile import get_profile, list_profiles, load_profile

    if value in list_profiles():
        return get_profile(value)
    path = Path(value)
    if path.suffix.lower() in (".toml", ".json"):
        if not path.is_file():
            raise UsageError(f"{flag} {value}: no such profile file")
        try:
            return load_profile(path)
        except OSError as error:
            raise UsageError(f"{flag} {value}: cannot be read ({error.strerror})") from None
        except UnicodeDecodeError:
            raise UsageError(f"{flag} {value}: the profile file is not UTF-8 text") from None
    raise UsageError(
        f"{flag}: unknown profile {value!r}: use one of {', '.join(list_profiles())} "
        "or a .toml/.json file"
    )


def _profiles(args: argparse.Namespace) -> int:
    from ._profile import get_profile, list_profiles

    if args.id and args.show and args.id != args.show:
        raise UsageError(f"give one profile: {args.id!r} or --show {args.show!r}")
    chosen = args.id or args.show
    lines: list[str] = []
    if not chosen:
        for pid in list_profiles():
            profile = get_profile(pid)
            lines.append(
                f"{pid:<20} {profile.version:<6} {profile.intended_use:<9} {profile.title}"
            )
        _print("\n".join(lines))
        return EXIT_OK
    profile = _profile(chosen, flag="profiles" if args.id else "--show")
    lines.append(f"{profile.id} {profile.version}: {profile.title}")
    lines.append(f"intended use: {profile.intended_use}")
    if profile.description:
        lines.append(profile.description)
    lines.append("")
    for path, threshold in profile.thresholds().items():
        lines.append(
            f"  {path:<32} {threshold.describe():<22} [{threshold.evidence}] {threshold.source}"
        )
    lines.append("\nsources:")
    for key, source in profile.sources.items():
        lines.append(f"  {key}: {source.citation}" + (f" <{source.url}>" if source.url else ""))
    _print("\n".join(lines))
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    """The web service (the logic is in b12labs.service); a stop by signal is a normal end."""
    if not 0 <= args.port <= 65535 or args.workers < 1:
        raise UsageError("--port must be 0 to 65535 and --workers at least 1")
    try:
        from .service._serve import serve
    except ModuleNotFoundError as error:
        raise UsageError(f'serve needs {error.name}: pip install "b12labs[service]"') from None
    profile = _profile(args.profile)
    try:
        return serve(
            host=args.host,
            port=args.port,
            profile=profile,
            profile_source=args.profile,
            workers=args.workers,
        )
    except _Interrupted:
        return EXIT_OK


def _explain(args: argparse.Namespace) -> int:
    from ._interpret import interpret

    if args.series is not None or args.date or args.treatment_started or args.treatment_route:
        return _explain_series(args)
    if not any(str(getattr(args, name) or "").strip() for name in _RESULTS):
        raise UsageError(
            "explain needs at least one result: --b12, --holotc, --mma, --hcy, --folate "
            '(e.g. --b12 "150 pmol/L")'
        )
    fields = (
        *_RESULTS, *("age", "sex", "pregnant", "egfr", "symptoms", "risk_factors"),
        *("recent_b12_treatment", "nitrous_oxide"),
    )  # fmt: skip
    given = {name: getattr(args, name) for name in fields if getattr(args, name) is not None}
    for name in ("symptoms", "risk_factors"):
        if name in given:  # repeated and ';' / ','-separated codes alike: one text for Panel
            given[name] = "; ".join(given[name])
    result = interpret(profile=_profile(args.profile), **given)
    _print(result.model_dump_json(indent=2) if args.json else result.report())
    return EXIT_OK


def _explain_series(args: argparse.Namespace) -> int:
    """``explain --series FILE`` (the logic is in b12labs._series_cli)."""
    if args.series is None:
        raise UsageError("--date, --treatment-started and --treatment-route need --series FILE")
    given = [f"--{n.replace('_', '-')}" for n in _RESULTS if getattr(args, n) is not None]
    if given or args.json:
        flag = given[0] if given else "--json"
        raise UsageError(f"{flag} cannot be combined with --series (the results are in the file)")
    _require("pyarrow", "--series")
    path = Path(args.series)
    if not path.is_file():
        raise UsageError(f"--series {path}: no such file")
    from ._series_cli import explain_series

    profile = _profile(args.profile)
    try:
        report = explain_series(
            path,
            profile=profile,
            date=args.date,
            treatment_started=args.treatment_started,
            treatment_route=args.treatment_route,
        )
    except B12LabsError as error:  # a row or a column of the file: name the file, not a flag
        raise UsageError(f"--series {path}: {_one_line(str(error))}") from None
    _print(report)
    return EXIT_OK


# ----------------------------------------------------------------------------- reading


def _require(module: str, what: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise UsageError(f"{what} needs {module}: {_PANDAS_EXTRA}") from None


def _delimiter(value: str | None) -> str | None:
    if value is None:
        return None
    if value.lower() in ("tab", "\\t"):
        return "\t"
    if len(value) != 1 or not value.isascii() or value in '"\r\n':
        raise UsageError(
            f"--delimiter {value!r}: give one character, such as --delimiter ';' or --delimiter tab"
        )
    return value


def _input_kind(path: Path) -> str:
    kind = _FORMATS.get(path.suffix.lower(), "csv")
    if kind == "jsonl":
        raise UsageError(f"{path}: JSON Lines is an output format; give CSV, Parquet or .xlsx")
    return kind


# ----------------------------------------------------------------------------- writing


class _AtomicOutput:
    """Write to a temporary file beside the target and rename it into place at the end, so
    an interrupted or failed run never leaves a half-written file in place of an earlier one,
    nor a temporary file behind.

    A target that exists and is not a regular file (``/dev/null``, ``/dev/stdout``, a pipe) is
    written to directly. A symbolic link is followed: its target is replaced, the link stays.
    """

    def __init__(self, target: Path | None, source: Path) -> None:
        self.target = target
        self.temp: Path | None = None
        self.final: Path | None = None
        self.direct = False
        if target is None:
            return
        where = f"--output {target}"
        try:
            exists = target.exists()
            if exists and target.is_dir():
                raise UsageError(f"{where} is a folder; give a file name for the output")
            if exists and os.path.samefile(source, target):
                raise UsageError(f"{where} is the input file: write the output to another file")
            self.direct = exists and not target.is_file()
            final = Path(os.path.realpath(target)) if target.is_symlink() else target
        except OSError as error:
            raise UsageError(f"{where}: {error.strerror or error}") from None
        if not final.parent.is_dir():
            raise UsageError(f"{where}: the folder {final.parent} does not exist")
        if self.direct:
            return
        self.final = final
        try:
            with _signals_held():  # no signal between creating the file and noting its name
                try:
                    fd, name = tempfile.mkstemp(
                        prefix=f".{final.name}.", suffix=".part", dir=final.parent
                    )
                except OSError as error:
                    raise UsageError(
                        f"{where}: cannot write in {final.parent} ({error.strerror or error})"
                    ) from None
                self.temp = Path(name)
                os.close(fd)
        except BaseException:  # a signal held above is delivered as the block ends
            self.discard()
            raise

    @property
    def path(self) -> Path | None:
        """Where the writer writes: the temporary file, the target itself, or None (stdout)."""
        return self.temp if self.temp is not None else (self.target if self.direct else None)

    def commit(self) -> None:
        if self.temp is not None and self.final is not None:
            umask = os.umask(0)
            os.umask(umask)
            try:
                os.chmod(self.temp, 0o666 & ~umask)  # as a plain open() would (mkstemp: 0600)
                os.replace(self.temp, self.final)
            except OSError as error:
                raise UsageError(
                    f"--output {self.target}: cannot be replaced ({error.strerror or error})"
                ) from None
            self.temp = None

    def discard(self) -> None:
        if self.temp is not None:
            try:
                self.temp.unlink()
            except FileNotFoundError:
                pass
            except OSError as error:
                logger.warning("temporary output not removed (%s)", error.strerror)
            self.temp = None


# ----------------------------------------------------------------------------- score


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _progress_text(rows: int, fraction: float | None, elapsed: float) -> str:
    """The progress line: rows so far, the share of the input read and, once a second has
    passed, the time left at the pace so far."""
    text = f"  {rows:>12,} rows"
    if fraction is not None:
        text += f" {fraction:6.1%}"
    text += f"  {elapsed:6.1f} s"
    if fraction is not None and 0 < fraction < 1 and elapsed >= 1:
        text += f", about {_clock(elapsed * (1 - fraction) / fraction)} left"
    return text


class _Progress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.start = time.perf_counter()
        self.width = 0

    def update(self, rows: int, fraction: float | None) -> None:
        if not self.enabled:
            return
        text = _progress_text(rows, fraction, time.perf_counter() - self.start)
        padding = " " * max(0, self.width - len(text))  # wipe a longer earlier line
        self.width = len(text)
        with contextlib.suppress(OSError):
            print(f"\r{text}{padding}", end="", file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.enabled and self.width:
            with contextlib.suppress(OSError):
                print(file=sys.stderr)


#: Chunks scored at once by ``score`` (this many threads; one more chunk may be queued).
_SCORING_THREADS = 2


def _score(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    _require("pyarrow", "reading and writing files")
    path = Path(args.input)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir():
        raise UsageError(f"{path} is a folder; give the export file")
    delimiter = _delimiter(args.delimiter)
    if args.chunk_size < 1:
        raise UsageError("--chunk-size must be a positive number of rows")
    kind = args.format or (_FORMATS.get(Path(args.output).suffix.lower()) if args.output else "csv")
    if kind not in ("csv", "parquet", "jsonl"):
        raise UsageError(
            f"--output {args.output}: give a .csv, .parquet or .jsonl output, or --format"
        )
    if kind == "parquet" and args.output is None:
        raise UsageError("Parquet output needs -o FILE.parquet")
    if kind == "jsonl":
        _require("pandas", "JSON Lines output")
    source_kind = _input_kind(path)
    options: dict[str, Any] = {
        "columns": dict(args.column),
        "units": dict(args.unit),
        "errors": "raise" if args.strict else "collect",
    }

    from ._io import open_input

    output: _AtomicOutput | None = None
    writer: _Writer | None = None
    reader: Any = None
    batches: Any = None
    progress = _Progress(sys.stderr.isatty() and not args.no_progress and not os.environ.get("CI"))
    statuses: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    rows = 0
    started = time.perf_counter()
    try:
        output = _AtomicOutput(Path(args.output) if args.output else None, path)
        reader = open_input(path, source_kind, delimiter, args.chunk_size)
        # The first blocks are parsed (by pyarrow, without the GIL) while the profile and
        # the batch core load on this thread: about 40 ms of start-up overlapped.
        reader.start()
        options["profile"] = _profile(args.profile)
        from ._table import score_table  # noqa: F401 - imported here, not by a scoring thread

        writer = _Writer(kind, output.path, not args.allow_formulas, str(args.output), args.columns)
        seen_batch = False
        unitless: list[tuple[str, Any]] = []
        unit_missing: Counter[str] = Counter()
        batches = reader.batches()
        # Two chunks are scored at once (numpy and Arrow release the GIL, so both cores
        # work), and taken back in order: the output is the same as one by one.
        scoring = ThreadPoolExecutor(max_workers=_SCORING_THREADS, thread_name_prefix="b12labs")
        in_flight: deque[tuple[Any, Future[Any]]] = deque()
        offset = 0
        try:
            for batch in itertools.chain(batches, [None]):
                if batch is not None:
                    in_flight.append((batch, scoring.submit(_score_batch, batch, offset, options)))
                    offset += batch.num_rows
                while in_flight and (batch is None or len(in_flight) > _SCORING_THREADS):
                    done, future = in_flight.popleft()
                    scored = future.result()
                    if not seen_batch:
                        unitless = _unitless_columns(scored, options["units"])
                    unit_missing.update(scored.unitless_counts())
                    seen_batch = True
                    rows += done.num_rows
                    statuses.update(scored.status_counts())
                    reasons.update(scored.error_counts())
                    writer.submit(done, scored)
                    progress.update(rows, reader.fraction)
        finally:
            scoring.shutdown(wait=True, cancel_futures=True)
        if not seen_batch:  # header only, or an Excel sheet without rows
            empty = reader.empty_table()
            writer.submit(empty, _score_batch(empty, 0, {**options, "errors": "collect"}))
        malformed = reader.malformed
        if malformed and args.strict:
            raise InvalidValueError(
                f"row {rows + 1}: the line does not have one field per column, or a quote "
                "that does not close on it"
            )
        if malformed:  # every input row gets an output row: these come last, as errors
            table = reader.malformed_table(malformed)
            scored = _score_batch(table, rows, {**options, "errors": "collect"})
            reasons["malformed_row"] += table.num_rows
            rows += table.num_rows
            writer.submit(table, scored, malformed=True)
        writer.close()
        output.commit()
    except BaseException as error:
        if writer is not None:
            writer.abandon()
        if output is not None:
            output.discard()
        if _is_arrow_error(error):
            what = _FORMATS.get(path.suffix.lower(), "csv")
            raise UsageError(f"{path}: cannot be read as {what} ({_first_line(error)})") from None
        raise
    finally:
        progress.done()
        if batches is not None:
            batches.close()  # stops the reading thread before the file is closed
        if reader is not None:
            reader.close()
    notes = [note for note in (reader.note, *writer.notes) if note]
    unitless = [(key, label) for key, label in unitless if unit_missing[key]]
    if unitless:  # the rows say "has no unit"; the note says how to fix it once
        notes.append(
            "no unit in the header, --unit or a unit column for "
            + ", ".join(f"{label!r} ({key}: {unit_missing[key]:,} rows)" for key, label in unitless)
            + ": each row whose cell has no unit is an error; give the unit once with "
            + " ".join(f"--unit {key}=..." for key, _ in unitless)
        )
    for note in notes:
        print(f"b12labs: note: {note}", file=sys.stderr)
    if not args.quiet:
        _summary(rows, statuses, reasons, time.perf_counter() - started, args.output)
    return EXIT_ROW_ERRORS if sum(reasons.values()) else EXIT_OK


def _unitless_columns(scored: Any, units: dict[str, str]) -> list[tuple[str, Any]]:
    """Value columns whose unit can only come from their cells: (key, column label)."""
    found = scored.found
    return [
        (key, label)
        for key, label in found.value.items()
        if key in _UNIT_KEYS
        and key not in found.header_unit
        and key not in found.unit_column
        and key not in units
    ]


def _score_batch(batch: Any, offset: int, options: dict[str, Any]) -> Any:
    """Score one Arrow batch or table with the table core (no DataFrame is built)."""
    from ._table import score_table

    names = list(batch.schema.names)
    return score_table(
        names,
        lambda label: batch.column(names.index(label)),
        batch.num_rows,
        row_label=lambda row: offset + row + 1,  # 1-based data row, as in the summary
        **options,
    )


def _is_arrow_error(error: BaseException) -> bool:
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover
        return False
    return isinstance(error, (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError))


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _summary(
    rows: int, statuses: Counter[str], reasons: Counter[str], seconds: float, output: str | None
) -> None:
    lines = [
        f"b12labs: {rows:,} rows read in {seconds:.2f} s"
        + (f", written to {output}" if output else "")
    ]
    for status in ("deficiency_likely", "borderline", "not_indicated", "insufficient_data"):
        lines.append(f"  {status:<20} {statuses.get(status, 0):>12,}")
    errors = sum(reasons.values())
    lines.append(f"  {'rows with errors':<20} {errors:>12,}")
    for reason, count in reasons.most_common():
        lines.append(f"    {reason:<18} {count:>12,}")
    print("\n".join(lines), file=sys.stderr)


# ----------------------------------------------------------------------------- console script


def run() -> NoReturn:
    """Console-script entry point."""
    code = _main(sys.argv[1:], console=True)
    try:
        sys.stdout.flush()
    except OSError:  # closed or full: what could not be written is dropped, without a second
        # report at interpreter exit
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
    _end_process(code)


def _end_process(code: int) -> NoReturn:
    """End the console script's process once its output is flushed, without the
    interpreter's teardown: freeing pyarrow's, numpy's and pydantic's objects module by
    module took about 45 ms of a 0.6 s ``score`` (issue 13). Every file is closed and every
    thread joined by then; the log handlers are flushed here. ``main()``, called in-process,
    returns as usual."""
    logging.shutdown()
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(code)


def _hide_pandas() -> None:
    """pyarrow imports pandas, when installed, on its first array conversion, only to check
    whether objects are pandas objects. Scoring CSV or Parquet into CSV or Parquet never hands
    it one, so the console script tells pyarrow that pandas is absent: 0.14 s of start-up
    saved. Only the console script does this (its process ends with the run); main(), called
    in-process, leaves the interpreter alone."""
    if "pandas" not in sys.modules and not any(
        isinstance(hook, _WithoutPandas) for hook in sys.meta_path
    ):
        sys.meta_path.insert(0, _WithoutPandas())


class _WithoutPandas:
    """Import hook that reports pandas as not installed (see :func:`_hide_pandas`)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def _arrow_only(args: argparse.Namespace) -> bool:
    """A ``score`` run (as parsed) whose input and output are both CSV/TSV or Parquet."""
    formats = {_FORMATS.get(Path(args.input).suffix.lower(), "csv")}
    if args.format:
        formats.add(args.format)
    elif args.output:
        formats.add(_FORMATS.get(Path(args.output).suffix.lower(), "?"))
    return formats <= {"csv", "parquet"}
