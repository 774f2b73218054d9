"""Unit parsing and conversion factors.

Design (the pint recipe for speed and safety):

* One pint registry, built lazily on first need, so ``import b12labs`` stays light.
* Laboratory spellings go through an explicit alias table first. Plain pint reads ``PG/ML``
  as petagauss per megalitre and ``Pmol/L`` as petamoles per litre, so upper-case feed
  spellings are never handed to pint: they are looked up, upper-cased, in a closed table of
  concentration units and mapped to the UCUM code a laboratory means. Anything not in the
  table is parsed by pint exactly as written (case-sensitive) and then checked against the
  analyte's dimension.
* Each distinct (analyte, unit text) pair is parsed once; its factor to the analyte's
  canonical unit is cached. Values are then converted with one float multiplication: no
  per-value pint arithmetic.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._analytes import analyte_info
from ._exceptions import IncompatibleUnitError, UnknownUnitError

if TYPE_CHECKING:
    import pint

__all__ = ["accepted_units", "canonical_factor", "convert", "normalize_unit_text"]

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


def normalize_unit_text(unit: str) -> str:
    """Return the unit text with micro signs and ``mc`` written ``u`` and spaces removed."""
    return _SPACES.sub("", _MICRO.sub("u", unit))


@functools.cache
def _registry() -> pint.UnitRegistry[Any]:
    import pint

    # B12LABS_UNIT_CACHE names a folder for pint's cache of its parsed definitions
    # (":auto:" = the user's cache folder). The command line sets it: building the registry
    # is most of a short run's start-up. The library itself writes nothing by default.
    cache = os.environ.get("B12LABS_UNIT_CACHE")
    if cache:
        try:
            return pint.UnitRegistry(cache_folder=cache)
        except Exception:  # an unwritable or corrupt cache must never stop interpretation
            pass
    return pint.UnitRegistry()


@functools.cache
def _parse(unit_text: str) -> tuple[pint.Quantity[Any], str]:
    """Parse a unit text once: return (1 of that unit as a pint quantity, UCUM-ish code)."""
    compact = normalize_unit_text(unit_text)
    code = MOLAR_SHORTHANDS.get(compact) or ALIASES.get(compact.upper())
    ureg = _registry()
    if code is None:
        code = compact
        if not code:
            raise UnknownUnitError("empty unit", unit=unit_text)
        try:
            return ureg.Quantity(1.0, unit_text.strip()), unit_text.strip()
        except Exception:  # pint raises several unrelated types for text it cannot read
            try:
                return ureg.Quantity(1.0, code), code
            except Exception:
                raise UnknownUnitError(f"unknown unit {unit_text!r}", unit=unit_text) from None
    return ureg.Quantity(1.0, code), code


def _dimension_of(quantity: pint.Quantity[Any]) -> str:
    return str(quantity.dimensionality)


def accepted_units(analyte: str) -> tuple[str, ...]:
    """The UCUM unit codes accepted for ``analyte`` (equivalent spellings also work)."""
    return _accepted_units(analyte)


@functools.cache
def _accepted_units(analyte: str) -> tuple[str, ...]:
    info = analyte_info(analyte)
    if analyte == "creatinine":
        return ("mg/dL", "mg/L", "umol/L")
    molar = ("pmol/L", "nmol/L", "umol/L", "nmol/mL")
    mass = ("pg/mL", "ng/L", "ng/mL", "ug/L", "mg/L", "mg/dL")
    if info.molar_mass is None:
        return tuple(u for u in molar if _dims_ok(u, info.canonical_unit))
    return molar + mass


def _dims_ok(unit: str, canonical: str) -> bool:
    return _dimension_of(_parse(unit)[0]) == _dimension_of(_parse(canonical)[0])


def _unit_error(
    kind: type[UnknownUnitError | IncompatibleUnitError], analyte: str, unit_text: str, why: str
) -> UnknownUnitError | IncompatibleUnitError:
    accepted = ", ".join(accepted_units(analyte))
    return kind(
        f"{analyte}: unit {unit_text!r} {why}; accepted units for {analyte}: {accepted} "
        "(and equivalent spellings such as µmol/L, umol/l, PMOL/L)",
        analyte=analyte,
        unit=unit_text,
    )


@functools.cache
def canonical_factor(analyte: str, unit_text: str) -> float:
    """Factor that converts a value of ``analyte`` in ``unit_text`` to its canonical unit.

    Raises:
        UnknownUnitError: the unit text is not a unit.
        IncompatibleUnitError: a unit, but not a concentration accepted for the analyte.
    """
    cache = _factor_cache()
    key = f"{analyte}\x1f{unit_text}"
    if cache is not None and key in cache.factors:
        return cache.factors[key]
    factor = _pint_factor(analyte, unit_text)
    if cache is not None:
        cache.add(key, factor)
    return factor


class _FactorCache:
    """Factors computed by pint in earlier runs, kept in the folder named by
    ``B12LABS_UNIT_CACHE`` (":auto:" = the user's cache folder).

    A short command-line run then needs neither pint's import nor its registry. The file is
    keyed by the versions of pint and b12labs and by the analyte data, so any change to them
    starts a new file; only factors pint computed are stored, never an error.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.factors: dict[str, float] = {}
        self.dirty = False
        with contextlib.suppress(OSError, ValueError):
            loaded = json.loads(path.read_text("utf-8"))
            if isinstance(loaded, dict):
                self.factors = {str(k): float(v) for k, v in loaded.items()}

    def add(self, key: str, factor: float) -> None:
        self.factors[key] = factor
        if not self.dirty:
            self.dirty = True
            atexit.register(self.save)

    def save(self) -> None:
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temp = self.path.with_suffix(f".{os.getpid()}.tmp")
            temp.write_text(json.dumps(self.factors, sort_keys=True), "utf-8")
            os.replace(temp, self.path)  # atomic: concurrent runs never read half a file


@functools.cache
def _factor_cache() -> _FactorCache | None:
    setting = os.environ.get("B12LABS_UNIT_CACHE")
    if not setting:
        return None
    from importlib import metadata, resources

    from ._version import __version__

    if setting == ":auto:":
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        folder = Path(base) / "b12labs"
    else:
        folder = Path(setting)
    try:
        pint_version = metadata.version("pint")
    except metadata.PackageNotFoundError:  # pragma: no cover
        return None
    data = resources.files("b12labs").joinpath("_data/analytes.toml").read_bytes()
    aliases = json.dumps(sorted(ALIASES.items()) + sorted(MOLAR_SHORTHANDS.items()))
    digest = hashlib.sha256(data + aliases.encode() + pint_version.encode()).hexdigest()[:16]
    return _FactorCache(folder / f"factors-{__version__}-{digest}.json")


def _pint_factor(analyte: str, unit_text: str) -> float:
    info = analyte_info(analyte)
    try:
        one, _code = _parse(unit_text)
    except UnknownUnitError:
        raise _unit_error(UnknownUnitError, analyte, unit_text, "is not a known unit") from None
    target, _ = _parse(info.canonical_unit)
    dim = _dimension_of(one)
    target_dim = _dimension_of(target)
    if dim == target_dim:
        return float(one.to(target.units).magnitude)
    ureg = _registry()
    if dim == _MASS_PER_VOLUME and target_dim == _AMOUNT_PER_VOLUME:
        if info.molar_mass is None:
            raise _unit_error(
                IncompatibleUnitError,
                analyte,
                unit_text,
                f"is a mass unit, but {analyte} is reported in molar units only",
            )
        molar = one / ureg.Quantity(info.molar_mass, "g/mol")
        return float(molar.to(target.units).magnitude)
    if dim == _AMOUNT_PER_VOLUME and target_dim == _MASS_PER_VOLUME:
        assert info.molar_mass is not None  # every mass-canonical analyte has a molar mass
        mass = one * ureg.Quantity(info.molar_mass, "g/mol")
        return float(mass.to(target.units).magnitude)
    raise _unit_error(IncompatibleUnitError, analyte, unit_text, "is not a concentration")


def convert(value: float, from_unit: str, to_unit: str, *, analyte: str) -> float:
    """Convert ``value`` of ``analyte`` from ``from_unit`` to ``to_unit``.

    Mass and molar units of the same analyte convert through its molar mass, so
    ``convert(200, "pg/mL", "pmol/L", analyte="b12")`` gives 147.56... pmol/L.

    Raises:
        UnknownUnitError, IncompatibleUnitError: as :func:`canonical_factor`.
    """
    return value * _pair_factor(str(analyte), from_unit, to_unit)


@functools.cache
def _pair_factor(analyte: str, from_unit: str, to_unit: str) -> float:
    return canonical_factor(analyte, from_unit) / canonical_factor(analyte, to_unit)
