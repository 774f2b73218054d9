"""Fuzzing the single-panel API against contract 1 (docs/concepts.md, "Contracts").

Every public call either returns its result or raises a :class:`b12labs.B12LabsError` (with
``analyte`` naming the field where one applies, and a short message), or a TypeError for a
wrong call shape (an unexpected keyword or mapping key, a panel that is neither a Panel nor
a mapping). Inputs are hostile: huge and control-character texts, lone surrogates, bidi
marks, NUL, numbers at and past every float limit, NaN spellings, Decimal NaNs, complex
numbers, bytes, nested containers, random profile mappings and files.

Each test keeps ``max_examples`` small so that the file runs in well under a minute.
"""

from __future__ import annotations

import json
import math
import string
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import b12labs
from b12labs import Panel

FIELDS = tuple(Panel.model_fields)
MARKERS = ("b12", "holotc", "mma", "hcy", "folate")
#: A message may quote a value, a unit and the accepted units: never a whole huge input.
MAX_MESSAGE = 1500

# ----------------------------------------------------------------------------- strategies

HOSTILE_CHARACTERS = st.characters(codec=None, categories=None)  # surrogates included
SPECIAL = st.sampled_from(
    [
        "\x00",
        "\u200f",  # right-to-left mark
        "\u202e",  # right-to-left override
        "\u2066",  # left-to-right isolate
        "\ufeff",  # byte order mark
        "\ud800",  # lone surrogate
        "\udfff",
        "\x1b[31m",
        "\r\n",
        "\u00a0",
        "µ",
        "μ",
        "≤",
        "≥",
        ",",
        ".",
        "e",
        "-",
        "+",
    ]
)
NUMBER_WORDS = st.sampled_from(
    [
        "nan",
        "-nan",
        "NaN",
        "nan(1)",
        "snan",
        "inf",
        "-inf",
        "Infinity",
        "1e999",
        "-1e999",
        "1e-999",
        "0x10",
        "1_000",
        "1,000,000",
        "0,45",
        "-0",
        "-0.0",
        "٣",  # Arabic-Indic digit three
        "１",  # full-width one
        "1" * 400,
        "9" * 5000,
    ]
)
UNITS = st.sampled_from(
    [
        "pmol/L",
        "PG/ML",
        "ng/L",
        "µmol/L",
        "umol/l",
        "nmol/mL",
        "mg/dL",
        "picomole/liter",
        "pg/cm^3",
        "pmol/L%",
        "pmol/L**1000",
        "(pmol/L)**0.5",
        "pmol/L/0",
        "1/pmol",
        "M",
        "mM",
        "%",
        "furlongs",
        "",
        " ",
        "pmol/L" + "\u200f",
        "pmol\x00/L",
        "p" * 33,
    ]
)
HUGE_TEXT = st.sampled_from(
    [
        "x" * 100_000,
        "150 " + "p" * 100_000,
        "150 pmol/L" + " " * 100_000,
        "<" * 100_000,
        "1" * 100_000 + " pmol/L",
        "pmol/L " * 15_000,
    ]
)
TEXT = st.one_of(
    st.text(HOSTILE_CHARACTERS, max_size=40),
    st.lists(st.one_of(SPECIAL, NUMBER_WORDS, UNITS, st.text(max_size=5)), max_size=6).map(
        " ".join
    ),
    st.builds(lambda n, u: f"{n} {u}", NUMBER_WORDS, UNITS),
    st.builds(
        lambda c, n, u: f"{c}{n} {u}",
        st.sampled_from(["<", "<=", ">", "≥", "=<"]),
        NUMBER_WORDS,
        UNITS,
    ),
    HUGE_TEXT,
)
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([-0.0, 0.0, 5e-324, 1.7976931348623157e308, -1.0]),
    st.integers(min_value=-(10**500), max_value=10**500),
    st.sampled_from([400, -400, 5000, -5000]).map(lambda n: 10 ** abs(n) * (1 if n > 0 else -1)),
    st.just(2**1024),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([Decimal("NaN"), Decimal("sNaN"), Decimal("-0"), Decimal("1e400")]),
    st.fractions(),
    st.integers(min_value=308, max_value=400).map(lambda n: Fraction(10**n, 3)),
    st.complex_numbers(max_magnitude=1e6),
    st.booleans(),
)
SCALARS = st.one_of(
    TEXT, NUMBERS, st.none(), st.binary(max_size=20), st.sampled_from([b"150 pmol/L", object()])
)
NESTED = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
        st.frozensets(st.one_of(st.text(max_size=8), st.integers()), max_size=3),
    ),
    max_leaves=8,
)
MEASUREMENT_LIKE = st.one_of(
    TEXT,
    st.tuples(NUMBERS, UNITS),
    st.tuples(NUMBERS, TEXT),
    st.tuples(st.just(150), st.one_of(TEXT, NUMBERS, st.none())),
    NESTED,
)


def value_for(field: str) -> st.SearchStrategy[Any]:
    """Hostile values for one Panel field, with a share of plausible ones."""
    if field in MARKERS or field == "creatinine":
        return MEASUREMENT_LIKE
    if field in ("age", "egfr"):
        return st.one_of(NUMBERS, NESTED)
    if field == "sex":
        return st.one_of(st.sampled_from(["f", "male", "F ", "x"]), NESTED)
    if field in ("symptoms", "risk_factors"):
        return st.one_of(
            st.lists(st.one_of(st.sampled_from(["tremor", "metformin", "ppi"]), TEXT), max_size=5),
            NESTED,
        )
    return st.one_of(st.booleans(), NESTED)


PANEL_KWARGS = st.fixed_dictionaries({}, optional={field: value_for(field) for field in FIELDS})


def check_error(error: BaseException, field: str | None = None) -> None:
    """Contract 1 for one raised error."""
    assert isinstance(error, b12labs.B12LabsError), repr(error)
    assert len(str(error)) <= MAX_MESSAGE, str(error)[:200]
    assert error.analyte is None or isinstance(error.analyte, str)
    if field is not None and error.analyte is not None:
        assert error.analyte == field, (error.analyte, field, str(error)[:200])
    assert error.unit is None or isinstance(error.unit, str)


def call(fn: Any, *args: Any, field: str | None = None, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except b12labs.B12LabsError as error:
        check_error(error, field)
        return error


FUZZ = settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=250, suppress_health_check=[HealthCheck.too_slow])

# ----------------------------------------------------------------------------- interpret


@FUZZ
@given(field=st.sampled_from(FIELDS), data=st.data())
def test_one_hostile_field(field: str, data: st.DataObject) -> None:
    value = data.draw(value_for(field))
    result = call(b12labs.interpret, field=field, **{field: value})
    if isinstance(result, b12labs.Interpretation):
        assert result.report()
        assert result.model_dump_json()


@FUZZ
@given(kwargs=PANEL_KWARGS, profile=st.sampled_from(b12labs.list_profiles()))
def test_hostile_panels(kwargs: dict[str, Any], profile: str) -> None:
    result = call(b12labs.interpret, profile=profile, **kwargs)
    if isinstance(result, b12labs.Interpretation):
        report = result.report()
        assert "Decision support, not a diagnosis." in report
    mapping = call(b12labs.interpret, kwargs, profile=profile)
    assert type(mapping) is type(result)
    if isinstance(result, b12labs.Interpretation):
        assert mapping == result


@FEW
@given(
    name=st.text(st.characters(codec="utf-8"), min_size=1, max_size=30).filter(
        lambda k: k not in (*FIELDS, "profile", "panel")
    ),
    value=SCALARS,
)
def test_unknown_keywords_are_a_type_error(name: str, value: Any) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument") as info:
        b12labs.interpret(b12="300 pmol/L", **{name: value})
    assert not isinstance(info.value, ValueError)
    assert len(str(info.value)) <= MAX_MESSAGE


@FEW
@given(panel=NESTED)
def test_anything_as_the_panel(panel: Any) -> None:
    if panel is not None and not isinstance(panel, dict):
        with pytest.raises(TypeError, match="expects a Panel or a mapping"):
            b12labs.interpret(panel)
        return
    if isinstance(panel, dict) and any(key not in FIELDS for key in panel):
        with pytest.raises(TypeError, match="unexpected panel key"):
            b12labs.interpret(panel)
        return
    result = call(b12labs.interpret, panel)
    assert isinstance(result, b12labs.Interpretation | b12labs.B12LabsError)


@FEW
@given(profile=NESTED)
def test_anything_as_the_profile(profile: Any) -> None:
    result = call(b12labs.interpret, b12="300 pmol/L", profile=profile)
    if isinstance(result, b12labs.Interpretation):
        assert profile in b12labs.list_profiles()


# ----------------------------------------------------------------------------- the other calls


@FUZZ
@given(text=st.one_of(TEXT, NESTED), analyte=st.one_of(st.none(), st.sampled_from(MARKERS)))
def test_measurement_parse(text: Any, analyte: str | None) -> None:
    result = call(b12labs.Measurement.parse, text, analyte=analyte, field=analyte)
    if isinstance(result, b12labs.Measurement):
        assert math.isfinite(result.value)
        assert result.value >= 0
        assert len(result.unit) <= 32


@FEW
@given(value=st.one_of(NUMBERS, NESTED), unit=st.one_of(UNITS, TEXT, NESTED), censor=NESTED)
def test_measurement_constructor(value: Any, unit: Any, censor: Any) -> None:
    call(b12labs.Measurement, value=value, unit=unit)
    call(b12labs.Measurement, value=150, unit="pmol/L", censor=censor)
    call(b12labs.Measurement, value=150, unit="pmol/L", source=censor)


@FUZZ
@given(
    value=st.one_of(NUMBERS, NESTED),
    from_unit=st.one_of(UNITS, TEXT, NESTED),
    to_unit=st.one_of(UNITS, NESTED),
    analyte=st.one_of(st.sampled_from([*MARKERS, "creatinine", "age", "egfr"]), NESTED),
)
def test_convert(value: Any, from_unit: Any, to_unit: Any, analyte: Any) -> None:
    result = call(b12labs.convert, value, from_unit, to_unit, analyte=analyte)
    if not isinstance(result, b12labs.B12LabsError):
        assert isinstance(result, float)


@FEW
@given(analyte=st.one_of(st.sampled_from([*MARKERS, "creatinine"]), NESTED))
def test_accepted_units(analyte: Any) -> None:
    result = call(b12labs.accepted_units, analyte)
    if not isinstance(result, b12labs.B12LabsError):
        assert all(isinstance(u, str) for u in result)


@FEW
@given(
    values=st.fixed_dictionaries(
        {
            "holotc": st.one_of(st.just(50), MEASUREMENT_LIKE, NUMBERS),
            "b12": st.one_of(st.just(300), MEASUREMENT_LIKE, NUMBERS),
            "mma": st.one_of(st.just(0.3), MEASUREMENT_LIKE, NUMBERS),
            "hcy": st.one_of(st.just(10), MEASUREMENT_LIKE, NUMBERS),
            "age": st.one_of(st.just(50), NUMBERS, NESTED),
        }
    )
)
def test_cb12(values: dict[str, Any]) -> None:
    result = call(b12labs.cb12, **values)
    if not isinstance(result, b12labs.B12LabsError):
        assert math.isfinite(result)


@FEW
@given(profile_id=NESTED)
def test_get_profile(profile_id: Any) -> None:
    call(b12labs.get_profile, profile_id)


# ----------------------------------------------------------------------------- profiles

THRESHOLD = st.fixed_dictionaries(
    {},
    optional={
        "below": NUMBERS,
        "up_to": NUMBERS,
        "above": NUMBERS,
        "from": NUMBERS,
        "unit": st.one_of(UNITS, NESTED),
        "source": st.one_of(st.sampled_from(["nice-ng239", "ours"]), NESTED),
        "evidence": NESTED,
    },
)
BLOCK = st.dictionaries(
    st.sampled_from(["low", "indeterminate", "above_reference", "elevated", "x"]),
    st.one_of(THRESHOLD, NESTED),
    max_size=3,
)
PROFILE_DATA = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(
            st.sampled_from(["lab", *b12labs.list_profiles(), "nice_ng239", "Lab", ""]), NESTED
        ),
        "version": st.one_of(st.just("1"), NESTED),
        "title": st.one_of(st.just("Lab"), NESTED),
        "base": st.one_of(st.sampled_from(b12labs.list_profiles()), NESTED),
        "sources": st.one_of(st.just({"ours": {"citation": "Ours"}}), NESTED),
        "b12": st.one_of(BLOCK, NESTED),
        "mma": st.one_of(BLOCK, NESTED),
        "intended_use": NESTED,
        "applies_from_age": st.one_of(THRESHOLD, NESTED),
    },
).flatmap(
    lambda base: st.dictionaries(st.text(max_size=6), NESTED, max_size=2).map(
        lambda extra: {**extra, **base}
    )
)


@FUZZ
@given(data=PROFILE_DATA)
def test_load_profile_from_random_mappings(data: dict[str, Any]) -> None:
    result = call(b12labs.load_profile, data)
    if isinstance(result, b12labs.Profile):
        interpreted = call(b12labs.interpret, b12="300 pmol/L", mma="0.3 umol/L", profile=result)
        assert isinstance(interpreted, b12labs.Interpretation | b12labs.B12LabsError)
        if result.id in b12labs.list_profiles():  # only an identical copy may take the id
            assert result.model_dump() == b12labs.get_profile(result.id).model_dump()


@FEW
@given(data=PROFILE_DATA.filter(lambda d: all(isinstance(k, str) for k in d)))
def test_profile_constructor_from_random_mappings(data: dict[str, Any]) -> None:
    data.pop("base", None)
    call(lambda: b12labs.Profile(**data))


def _json_bytes(data: Any) -> bytes:
    try:
        return json.dumps(data, default=repr).encode("utf-8", "surrogatepass")
    except ValueError:  # an int too long to write
        return b"{}"


@FEW
@given(
    content=st.one_of(
        st.binary(max_size=200),
        st.text(HOSTILE_CHARACTERS, max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
        PROFILE_DATA.map(_json_bytes),
        st.integers(min_value=1, max_value=200_000).map(lambda n: b"[" * n + b"]" * n),
        st.integers(min_value=1, max_value=200_000).map(lambda n: b"a = " + b"[" * n),
        st.integers(min_value=1, max_value=5_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
        st.just("id = 'lab'\ntitle = 'Hôpital'\n".encode("latin-1")),
    ),
    suffix=st.sampled_from([".json", ".toml", ".JSON", ".txt", ""]),
)
def test_load_profile_from_random_files(tmp_path_factory: Any, content: bytes, suffix: str) -> None:
    path = Path(tmp_path_factory.mktemp("profiles")) / f"lab{suffix}"
    path.write_bytes(content)
    call(b12labs.load_profile, path)
    call(b12labs.load_profile, str(path))


@FEW
@given(depth=st.integers(min_value=1, max_value=50_000), key=st.sampled_from(["b12", "x", "id"]))
def test_deeply_nested_profile_mappings(depth: int, key: str) -> None:
    deep: Any = "x"
    for _ in range(depth):
        deep = {key: deep}
    call(b12labs.load_profile, {"id": "deep", "version": "1", "title": "Deep", key: deep})


@FEW
@given(path=st.one_of(st.text(HOSTILE_CHARACTERS, max_size=50), NESTED))
def test_load_profile_from_hostile_paths(path: Any) -> None:
    if isinstance(path, dict):
        return  # a mapping is profile data, covered above
    call(b12labs.load_profile, path)


# ----------------------------------------------------------------------------- printable ASCII


@FUZZ
@given(
    text=st.text(string.printable, max_size=70),
    analyte=st.sampled_from(MARKERS),
)
def test_printable_measurement_texts(text: str, analyte: str) -> None:
    """Keyboard-typed texts: the same answer or error by keyword and by Panel."""
    by_keyword = call(b12labs.interpret, field=analyte, **{analyte: text})
    try:
        by_panel: Any = b12labs.interpret(Panel(**{analyte: text}))
    except b12labs.B12LabsError as error:
        by_panel = error
    assert type(by_keyword) is type(by_panel)
