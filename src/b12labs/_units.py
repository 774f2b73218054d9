"""Unit parsing and conversion factors.

Design (the pint recipe for speed and safety):

* Laboratory spellings go through an explicit alias table first. Plain pint reads ``PG/ML``
  as petagauss per megalitre and ``Pmol/L`` as petamoles per litre, so upper-case feed
  spellings are never handed to pint: they are looked up, upper-cased, in a closed table of
  concentration units and mapped to the UCUM code a laboratory means.
* The factors between the codes of that table are exact arithmetic on SI prefixes and the
  analyte's molar mass (:func:`_table_factor`), computed without pint: the usual spellings
  never import pint, and ``import b12labs`` stays light.
* Anything not in the table is parsed by pint exactly as written (case-sensitive), through
  one registry built lazily under :data:`LOCK`, and then checked against the analyte's
  dimension. A factor equal (to 1e-9) to a table factor is replaced by the table factor, so
  every spelling of a unit gives bit-identical answers.
* Each distinct (analyte, unit text) pair is resolved once; its factor to the analyte's
  canonical unit is kept in a dict. Values are then converted with one float
  multiplication: no per-value pint arithmetic.
* A unit text longer than :data:`MAX_UNIT_LENGTH` characters is refused before any parsing
  (pint's parsing time grows with the length of the text).
* Optionally (``B12LABS_UNIT_CACHE``, set by the command line) the spellings pint resolved
  are remembered on disk for the next process (:class:`_FactorCache`); the cache can never
  change an answer.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import hmac
import json
import logging
import math
import numbers
import os
import re
import secrets
import threading
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._analytes import analyte_info
from ._data_files import read_bytes
from ._exceptions import IncompatibleUnitError, InvalidValueError, UnknownUnitError, brief

if TYPE_CHECKING:
    import pint

__all__ = [
    "LOCK",
    "MAX_UNIT_LENGTH",
    "accepted_units",
    "canonical_factor",
    "check_unit_text",
    "convert",
    "normalize_unit_text",
]

logger = logging.getLogger(__name__)

#: The longest unit text read, in characters (after trimming outer spaces). The longest
#: spellings seen on reports ("nanograms per millilitre") have 24; longer texts are refused
#: with UnknownUnitError before any parsing.
MAX_UNIT_LENGTH = 32

#: The one lock of b12labs' lazy globals: the pint registry and what it parsed, the on-disk
#: cache, compiled shipped profiles. Taken only when something is built, never on a hit.
LOCK = threading.RLock()

# The closed set of concentration units seen on laboratory reports and feeds (UCUM codes).
# Keys of the alias table are these codes upper-cased, so ``PMOL/L``, ``pmol/l`` and
# ``Pmol/L`` all mean picomoles per litre. Every upper-cased code is distinct (tested).
_LAB_UNITS: tuple[str, ...] = (
    # mass concentration
    "g/L", "g/dL", "mg/L", "mg/dL", "mg/mL", "ug/L", "ug/dL", "ug/mL",
    "ng/L", "ng/dL", "ng/mL", "pg/L", "pg/mL",
    # amount-of-substance concentration
    "mol/L", "mmol/L", "umol/L", "umol/mL", "nmol/L", "nmol/dL", "nmol/mL",
    "pmol/L", "pmol/mL",
)  # fmt: skip
ALIASES: dict[str, str] = {code.upper(): code for code in _LAB_UNITS}
# Molar shorthands (µM, nM...) are matched exactly as written (after µ/mc -> u): upper-cased,
# "MM" or "NM" would also be millimetres or nanometres, so they are never case-folded.
MOLAR_SHORTHANDS: dict[str, str] = {
    "M": "mol/L",
    "mM": "mmol/L",
    "uM": "umol/L",
    "nM": "nmol/L",
    "pM": "pmol/L",
}

_MICRO = re.compile(r"[µμ]|(?i:mc)(?=(?i:g|mol))")
_SPACES = re.compile(r"\s+")

_MASS_PER_VOLUME = "[mass] / [length] ** 3"
_AMOUNT_PER_VOLUME = "[substance] / [length] ** 3"

# Exact scales of the table's codes: SI prefixes and volumes, as fractions.
_PREFIX = {
    "": Fraction(1),
    "m": Fraction(1, 10**3),
    "u": Fraction(1, 10**6),
    "n": Fraction(1, 10**9),
    "p": Fraction(1, 10**12),
}
_VOLUME = {"L": Fraction(1), "dL": Fraction(1, 10), "mL": Fraction(1, 1000)}
_CODE = re.compile(r"(?P<prefix>[munp]?)(?P<base>g|mol)/(?P<volume>L|dL|mL)")


def normalize_unit_text(unit: str) -> str:
    """Return the unit text with micro signs and ``mc`` written ``u`` and spaces removed."""
    return _SPACES.sub("", _MICRO.sub("u", unit))


def check_unit_text(analyte: str | None, unit_text: Any, value: Any = None) -> str:
    """Return ``unit_text`` trimmed, or raise UnknownUnitError if it is not a text or is
    longer than :data:`MAX_UNIT_LENGTH` characters (refused before any parsing)."""
    what = analyte or "unit"
    if not isinstance(unit_text, str):
        raise UnknownUnitError(
            f"{what}: unit {brief(unit_text)} is not a text; give the unit as text, e.g. 'pmol/L'",
            analyte=analyte,
            value=value,
        )
    text = unit_text.strip()
    if len(text) > MAX_UNIT_LENGTH:
        raise UnknownUnitError(
            f"{what}: unit {brief(text)} is longer than {MAX_UNIT_LENGTH} characters, "
            "which no unit is; give the unit alone, e.g. 'pmol/L'",
            analyte=analyte,
            value=value,
            unit=unit_text,
        )
    return text


def _table_code(unit_text: str) -> str | None:
    """The code of the closed table that ``unit_text`` spells, if any."""
    compact = normalize_unit_text(unit_text)
    return MOLAR_SHORTHANDS.get(compact) or ALIASES.get(compact.upper())


@functools.cache
def _table_scale(code: str) -> tuple[str, Fraction]:
    """('mass', g/L per unit) or ('amount', mol/L per unit), exactly."""
    match = _CODE.fullmatch(code)
    assert match is not None, code  # every table code has this form (tested)
    kind = "mass" if match["base"] == "g" else "amount"
    return kind, _PREFIX[match["prefix"]] / _VOLUME[match["volume"]]


@functools.cache
def _table_factor(analyte: str, code: str) -> float | None:
    """Exact factor from table ``code`` to the canonical unit of ``analyte``.

    None: a mass unit for an analyte reported in molar units only. The analyte's canonical
    unit must itself be a table code (see :func:`_table_canonical`).
    """
    info = analyte_info(analyte)
    kind, scale = _table_scale(code)
    target_kind, target_scale = _table_scale(info.canonical_unit)
    if kind == target_kind:
        return float(scale / target_scale)
    if info.molar_mass is None:
        return None
    molar_mass = Fraction(repr(info.molar_mass))  # the decimal written in analytes.toml
    if kind == "mass":
        return float(scale / molar_mass / target_scale)
    return float(scale * molar_mass / target_scale)


@functools.cache
def _table_canonical(analyte: str) -> bool:
    """Whether the canonical unit of ``analyte`` is a table code (every concentration)."""
    return analyte_info(analyte).canonical_unit in _LAB_UNITS


def accepted_units(analyte: str) -> tuple[str, ...]:
    """The UCUM unit codes accepted for ``analyte`` (equivalent spellings also work).

    Raises:
        InvalidValueError: not an analyte b12labs knows.
    """
    info = analyte_info(analyte)  # refuses what is not an analyte, hashable or not
    return _accepted_units(info.key)


@functools.cache
def _accepted_units(analyte: str) -> tuple[str, ...]:
    info = analyte_info(analyte)
    if analyte == "creatinine":
        return ("mg/dL", "mg/L", "umol/L")
    molar = ("pmol/L", "nmol/L", "umol/L", "nmol/mL")
    mass = ("pg/mL", "ng/L", "ng/mL", "ug/L", "mg/L", "mg/dL")
    if not _table_canonical(analyte):
        return ()
    if info.molar_mass is None:
        canonical_kind = _table_scale(info.canonical_unit)[0]
        return tuple(u for u in molar if _table_scale(u)[0] == canonical_kind)
    return molar + mass


def _unit_error(
    kind: type[UnknownUnitError | IncompatibleUnitError], analyte: str, unit_text: str, why: str
) -> UnknownUnitError | IncompatibleUnitError:
    accepted = ", ".join(accepted_units(analyte))
    hint = (
        f"; accepted units for {analyte}: {accepted} "
        "(and equivalent spellings such as µmol/L, umol/l, PMOL/L)"
        if accepted
        else ""
    )
    return kind(f"{analyte}: unit {brief(unit_text)} {why}{hint}", analyte=analyte, unit=unit_text)


#: (analyte, unit text as given) -> factor to the canonical unit. Filled by
#: :func:`_new_factor`; a plain dict so that a hit costs one lookup.
_FACTORS: dict[tuple[str, str], float] = {}
#: Bound on the distinct texts remembered (every one of them a real unit spelling).
_MAX_REMEMBERED = 4096


def canonical_factor(analyte: str, unit_text: str) -> float:
    """Factor that converts a value of ``analyte`` in ``unit_text`` to its canonical unit.

    Raises:
        UnknownUnitError: the unit text is not a unit (or not a text, or longer than
            :data:`MAX_UNIT_LENGTH` characters).
        IncompatibleUnitError: a unit, but not a concentration accepted for the analyte.
        InvalidValueError: not an analyte b12labs knows.
    """
    try:
        return _FACTORS[analyte, unit_text]
    except (KeyError, TypeError):  # TypeError: an unhashable argument, refused below
        return _new_factor(analyte, unit_text)


def _new_factor(analyte: str, unit_text: str) -> float:
    info = analyte_info(analyte)
    key = info.key
    text = check_unit_text(key, unit_text)
    code = _table_code(text) if _table_canonical(key) else None
    if code is not None:
        factor = _table_factor(key, code)
        if factor is None:
            raise _unit_error(
                IncompatibleUnitError,
                key,
                unit_text,
                f"is a mass unit, but {key} is reported in molar units only",
            )
    else:
        if not _pint_may_read(text):
            # refused before the disk cache as well as before pint (a file written by an
            # earlier release may hold spellings such as 'pmol/L"')
            raise _unit_error(UnknownUnitError, key, unit_text, "is not a known unit")
        cache = _factor_cache()
        cached = cache.lookup(key, text) if cache is not None else None
        if cached is not None:
            factor = cached
        else:
            factor, snapped = _pint_factor(key, unit_text)
            if cache is not None and snapped is not None:
                cache.add(key, text, snapped)
    if len(_FACTORS) < _MAX_REMEMBERED:
        _FACTORS[analyte, unit_text] = factor
    return factor


# ----------------------------------------------------------------------------- pint

_REGISTRY: pint.UnitRegistry[Any] | None = None


def _registry() -> pint.UnitRegistry[Any]:
    """The one pint registry, built on first need under :data:`LOCK`.

    Built from pint's definitions every time (about 0.1 s): pint's own on-disk cache
    (``cache_folder``) is a pickle, and loading a pickle runs whatever code it names.
    """
    global _REGISTRY
    with LOCK:
        if _REGISTRY is None:
            import pint

            _REGISTRY = pint.UnitRegistry()
        return _REGISTRY


# What a unit text may hold before it reaches pint: letters, digits, spaces and the unit
# operators. pint reads text with Python's tokenizer, which skipped a stray quote on Python
# 3.11 ('pmol/L"' read as pmol/L) and refuses it on 3.13: such text is refused on every
# Python, before pint sees it.
_UNIT_CHARACTERS = re.compile(r"^[\w\s/.·*^²³()%\-]+$")
#: One decimal number in ASCII digits, such as ".5" or "12" (no sign, exponent or space).
_BARE_NUMBER = re.compile(r"^(?:[0-9]+\.?[0-9]*|\.[0-9]+)$", re.ASCII)


def _pint_may_read(text: str) -> bool:
    """Whether trimmed ``text`` may be given to pint (or looked up in the disk cache)."""
    if not _UNIT_CHARACTERS.match(text):
        return False
    # pint reads a bare number as a factor and refuses any but 1 as a unit: the same
    # answer without importing pint (".5" of a mistyped "12..5" is the usual case)
    return not (_BARE_NUMBER.match(text) and float(text) != 1.0)


@functools.cache
def _parse(unit_text: str) -> pint.Quantity[Any]:
    """Parse a unit text with pint, once (call under :data:`LOCK`): 1 of that unit.

    Text :func:`_pint_may_read` refuses never gets here (:func:`_new_factor` checks it).
    """
    text = unit_text.strip()
    ureg = _registry()
    for candidate in (text, normalize_unit_text(text)):
        if not candidate:
            continue
        try:
            return ureg.Quantity(1.0, candidate)
        except Exception:  # pint raises several unrelated types for text it cannot read
            continue
    raise UnknownUnitError(f"unknown unit {brief(unit_text)}", unit=unit_text)


def _pint_factor(analyte: str, unit_text: str) -> tuple[float, str | None]:
    """pint's factor from ``unit_text`` to the canonical unit of ``analyte``, and the table
    code whose exact factor it equals (the factor returned is then that exact factor)."""
    info = analyte_info(analyte)
    with LOCK:
        try:
            one = _parse(unit_text)
        except UnknownUnitError:
            raise _unit_error(UnknownUnitError, analyte, unit_text, "is not a known unit") from None
        target = _parse(info.canonical_unit)
        dim = str(one.dimensionality)
        target_dim = str(target.dimensionality)
        ureg = _registry()
        if dim == target_dim:
            quantity = one
        elif dim == _MASS_PER_VOLUME and target_dim == _AMOUNT_PER_VOLUME:
            if info.molar_mass is None:
                raise _unit_error(
                    IncompatibleUnitError,
                    analyte,
                    unit_text,
                    f"is a mass unit, but {analyte} is reported in molar units only",
                )
            quantity = one / ureg.Quantity(info.molar_mass, "g/mol")
        elif dim == _AMOUNT_PER_VOLUME and target_dim == _MASS_PER_VOLUME:
            assert info.molar_mass is not None  # every mass-canonical analyte has a molar mass
            quantity = one * ureg.Quantity(info.molar_mass, "g/mol")
        else:
            raise _unit_error(IncompatibleUnitError, analyte, unit_text, "is not a concentration")
        # "pmol/L%" or "ppm*g/L" are concentrations scaled by a pure number: not a unit a
        # laboratory reports, and a silent factor of 100 or 10**6 if read.
        pure = [name for name in one._units if not ureg.get_dimensionality(name)]
        if pure:
            raise _unit_error(
                IncompatibleUnitError,
                analyte,
                unit_text,
                f"scales a concentration by a pure number ({', '.join(pure)})",
            )
        factor = float(quantity.to(target.units).magnitude)
    if not math.isfinite(factor) or factor <= 0:  # pragma: no cover - pint gives none
        raise _unit_error(UnknownUnitError, analyte, unit_text, "is not a known unit")
    if _table_canonical(analyte):
        for code in _LAB_UNITS:
            exact = _table_factor(analyte, code)
            if exact is not None and abs(exact - factor) <= 1e-9 * exact:
                return exact, code
    return factor, None


def convert(value: float, from_unit: str, to_unit: str, *, analyte: str) -> float:
    """Convert ``value`` of ``analyte`` from ``from_unit`` to ``to_unit``.

    Mass and molar units of the same analyte convert through its molar mass, so
    ``convert(200, "pg/mL", "pmol/L", analyte="b12")`` gives 147.56... pmol/L.

    Raises:
        UnknownUnitError, IncompatibleUnitError: as :func:`canonical_factor`.
        InvalidValueError: ``value`` is not a number, or too large for a float.
    """
    factor = canonical_factor(analyte, from_unit) / canonical_factor(analyte, to_unit)
    name = str(analyte)  # an analyte b12labs knows: canonical_factor refused anything else
    if isinstance(value, float):
        return value * factor
    if isinstance(value, numbers.Real | Decimal) and not isinstance(value, bool):
        try:
            return float(value) * factor
        except (OverflowError, ValueError):  # a huge int; Decimal('sNaN')
            pass
    elif hasattr(value, "__array__"):  # a numpy array: converted element-wise
        return value * factor
    raise InvalidValueError(
        f"{name}: {brief(value)} is not a number that can be converted",
        analyte=name,
        value=value,
        unit=from_unit if isinstance(from_unit, str) else None,
    )


# ----------------------------------------------------------------------------- disk cache


class _FactorCache:
    """Unit spellings pint resolved in earlier runs, kept in one JSON file so that a later
    run reads them without importing pint (only when ``B12LABS_UNIT_CACHE`` is set; the
    command line sets it to ``:auto:``, the platform's cache folder).

    The cache can never change an answer:

    * it holds no number: each entry maps a spelling (at most :data:`MAX_UNIT_LENGTH`
      characters, one that pint parsed as a concentration of the analyte) to a code of the
      closed alias table, and the factor used is the table's exact factor for that code,
      the same factor a fresh pint parse gives (it is snapped to it). A spelling whose
      factor is not a table factor is never cached; neither is anything pint could not
      read, so no cell text that is not a unit is ever written;
    * the file carries an HMAC-SHA256 of its entries under a random key kept beside it
      (``key``, created with mode 0600). Any edit, truncation or corruption of the file, a
      file written by another program or copied from another machine, fails the check;
    * every entry is then checked: a known analyte, a spelling of the allowed length, a
      table code compatible with the analyte. One bad entry discards the whole file.

    A file that fails a check is ignored (with a warning on the ``b12labs`` logger, which
    never shows its contents) and rewritten at exit. Someone who can read the key can
    write a file that passes the checks; such a person can equally change the installed
    b12labs, so this is outside what a cache can defend. Nothing is ever pickled.
    """

    FORMAT = 1
    MAX_BYTES = 256 * 1024
    MAX_ENTRIES = 1024

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.path = folder / name
        self.key_path = folder / "key"
        self.entries: dict[str, dict[str, str]] = {}
        self.dirty = False
        self._load()

    def lookup(self, analyte: str, unit_text: str) -> float | None:
        """The exact factor of a remembered spelling, or None."""
        code = self.entries.get(analyte, {}).get(unit_text)
        return None if code is None else _table_factor(analyte, code)

    def add(self, analyte: str, unit_text: str, code: str) -> None:
        """Remember that pint read ``unit_text`` as table ``code`` (saved at exit)."""
        with LOCK:
            if sum(map(len, self.entries.values())) >= self.MAX_ENTRIES:
                return
            self.entries.setdefault(analyte, {})[unit_text] = code
            if not self.dirty:
                self.dirty = True
                atexit.register(self.save)

    def _ignore(self, why: str) -> None:
        logger.warning("b12labs unit cache %s ignored (%s); it will be rewritten", self.path, why)

    def _load(self) -> None:
        try:
            if self.path.stat().st_size > self.MAX_BYTES:
                self._ignore("file too large")
                return
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return  # no cache yet
        except OSError as exc:
            self._ignore(f"cannot be read: {exc.strerror}")
            return
        try:
            data = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            self._ignore("not JSON")
            return
        if not isinstance(data, dict) or set(data) != {"format", "entries", "mac"}:
            self._ignore("not a b12labs unit cache")
            return
        entries, mac = data["entries"], data["mac"]
        key = self._key(create=False)
        if key is None or not isinstance(mac, str):
            self._ignore("no key to check it with")
            return
        if data["format"] != self.FORMAT or not hmac.compare_digest(mac, self._mac(key, entries)):
            self._ignore("its checksum does not match: the file was changed")
            return
        if not self._valid(entries):
            self._ignore("an entry is not a unit spelling and a table code of its analyte")
            return
        self.entries = entries

    @staticmethod
    def _valid(entries: Any) -> bool:
        if not isinstance(entries, dict):
            return False
        for analyte, spellings in entries.items():
            if not isinstance(spellings, dict):
                return False
            try:
                if not _table_canonical(analyte):
                    return False
            except InvalidValueError:
                return False
            for spelling, code in spellings.items():
                if not (
                    isinstance(code, str)
                    and code in _LAB_UNITS
                    and 0 < len(spelling) <= MAX_UNIT_LENGTH
                    and _table_factor(analyte, code) is not None
                ):
                    return False
        return True

    @staticmethod
    def _mac(key: bytes, entries: Any) -> str:
        body = json.dumps(entries, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
        return hmac.new(key, body.encode("ascii"), hashlib.sha256).hexdigest()

    def _key(self, *, create: bool) -> bytes | None:
        try:
            text = self.key_path.read_bytes()
        except FileNotFoundError:
            if not create:
                return None
            new = secrets.token_hex(32).encode("ascii")
            try:
                fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it first: use theirs
                text = self.key_path.read_bytes()
            else:
                with os.fdopen(fd, "wb") as out:
                    out.write(new)
                text = new
        try:
            key = bytes.fromhex(text.decode("ascii"))
        except ValueError:
            return None
        return key if len(key) == 32 else None

    def save(self) -> None:
        """Write the entries (at exit). Failures are logged, never raised."""
        with LOCK:
            try:
                self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                key = self._key(create=True)
                if key is None:
                    logger.warning(
                        "b12labs unit cache %s not written: its key file is damaged; "
                        "delete the folder to start afresh",
                        self.folder,
                    )
                    return
                body = {
                    "format": self.FORMAT,
                    "entries": self.entries,
                    "mac": self._mac(key, self.entries),
                }
                temp = self.path.with_suffix(f".{os.getpid()}.tmp")
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    json.dump(body, out, sort_keys=True, ensure_ascii=True)
                os.replace(temp, self.path)  # atomic: concurrent runs never read half a file
            except OSError as exc:
                logger.warning(
                    "b12labs unit cache in %s not written: %s", self.folder, exc.strerror
                )


_CACHE: list[_FactorCache | None] = []


def _factor_cache() -> _FactorCache | None:
    """The disk cache named by ``B12LABS_UNIT_CACHE`` (":auto:": the platform's cache
    folder), opened once under :data:`LOCK`; None when the variable is not set."""
    if _CACHE:
        return _CACHE[0]
    with LOCK:
        if not _CACHE:
            _CACHE.append(_open_factor_cache())
        return _CACHE[0]


def _open_factor_cache() -> _FactorCache | None:
    setting = os.environ.get("B12LABS_UNIT_CACHE")
    if not setting:
        return None
    from importlib import metadata

    from ._version import __version__

    if setting == ":auto:":
        import platformdirs

        folder = Path(platformdirs.user_cache_dir("b12labs"))
    else:
        folder = Path(setting)
    try:
        pint_version = metadata.version("pint")
    except metadata.PackageNotFoundError:  # pragma: no cover
        return None
    # The spellings pint reads depend on pint, the table and the analyte data: any change to
    # them, or to the file format, starts a new file.
    data = read_bytes("_data/analytes.toml")
    aliases = json.dumps(sorted(ALIASES.items()) + sorted(MOLAR_SHORTHANDS.items()))
    source = f"{aliases}\x1f{pint_version}\x1fformat {_FactorCache.FORMAT}".encode()
    digest = hashlib.sha256(data + source).hexdigest()[:16]
    return _FactorCache(folder, f"factors-{__version__}-{digest}.json")
