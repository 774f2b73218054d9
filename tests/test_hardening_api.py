"""Issue 10, single-panel API: no wrong answer, no lost row, no traceback, on any input.

Each test here was written before its fix and failed on the code it fixes:

- shipped profile ids are reserved (a custom profile cannot be labelled as a shipped one);
- the on-disk unit cache can never change an answer (validated, never pickled, no cell text,
  in the platform's cache folder, problems logged);
- one input-size policy (unit texts, measurement texts) refused before parsing;
- the lazy unit registry is built once under a lock (8 threads in a fresh process);
- non-library exceptions do not leak from the public API (contract 1);
- public exceptions report ``b12labs`` as their module;
- ``Interpretation.report()`` shows the value in the unit of the normal range beside it;
- the ``b12labs`` logger, and the LICENSE file.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import subprocess
import sys
import textwrap
import threading
import tomllib
import traceback
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import b12labs
from b12labs import Panel

ROOT = Path(__file__).resolve().parents[1]
NICE = "nice-ng239"

# ----------------------------------------------------------------------------- reserved ids


def _nice_with_lower_b12_low() -> dict[str, Any]:
    data = b12labs.get_profile(NICE).model_dump(by_alias=True, exclude_none=True)
    data["b12"]["low"] = {"below": 150, "unit": "ng/L", "source": "nice-ng239"}
    return data


@pytest.mark.parametrize("pid", b12labs.list_profiles())
def test_a_custom_profile_cannot_take_a_shipped_id(pid: str) -> None:
    data = {
        "id": pid,
        "version": "1.0",
        "title": "Our own thresholds",
        "base": NICE,
        "sources": {"ours": {"citation": "Our laboratory"}},
        "b12": {"low": {"below": 150, "unit": "ng/L", "source": "ours"}},
    }
    with pytest.raises(b12labs.InvalidProfileError, match="another id") as info:
        b12labs.load_profile(data)
    assert pid in str(info.value)
    assert "reserved" in str(info.value)


def test_a_custom_profile_file_cannot_take_a_shipped_id(tmp_path: Path) -> None:
    path = tmp_path / "lab.json"
    path.write_text(json.dumps(_nice_with_lower_b12_low()), encoding="utf-8")
    with pytest.raises(b12labs.InvalidProfileError, match="reserved"):
        b12labs.load_profile(path)


def test_profile_constructor_refuses_a_shipped_id_with_other_thresholds() -> None:
    with pytest.raises(b12labs.InvalidProfileError, match=r"reserved.*b12\.low"):
        b12labs.Profile(**_nice_with_lower_b12_low())


def test_a_copy_with_other_thresholds_is_not_interpreted_as_the_shipped_profile() -> None:
    nice = b12labs.get_profile(NICE)
    low = b12labs.Threshold(below=150, unit="ng/L", source="nice-ng239")
    changed = nice.model_copy(update={"b12": nice.b12.model_copy(update={"low": low})})
    with pytest.raises(b12labs.InvalidProfileError, match="reserved"):
        b12labs.interpret(b12="170 ng/L", profile=changed)


@pytest.mark.parametrize("pid", ["nice_ng239", "nice.ng239", "nice-ng239."])
def test_ids_that_read_as_a_shipped_id_are_reserved(pid: str) -> None:
    data = {**_nice_with_lower_b12_low(), "id": pid}
    with pytest.raises(b12labs.InvalidProfileError, match="reserved"):
        b12labs.load_profile(data)


@pytest.mark.parametrize("pid", b12labs.list_profiles())
def test_an_identical_copy_of_a_shipped_profile_is_accepted(pid: str, tmp_path: Path) -> None:
    shipped = b12labs.get_profile(pid)
    data = shipped.model_dump(by_alias=True, exclude_none=True)
    path = tmp_path / "copy.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    for copy in (b12labs.load_profile(data), b12labs.load_profile(path), b12labs.Profile(**data)):
        assert copy.model_dump() == shipped.model_dump()
        result = b12labs.interpret(b12="200 ng/L", mma="0.3 umol/L", age=70, profile=copy)
        assert result == b12labs.interpret(b12="200 ng/L", mma="0.3 umol/L", age=70, profile=pid)


def test_an_id_that_merely_starts_like_a_shipped_id_is_free() -> None:
    profile = b12labs.load_profile({**_nice_with_lower_b12_low(), "id": "nice-ng239-ourlab"})
    assert profile.id == "nice-ng239-ourlab"


# ----------------------------------------------------------------------------- unit cache

# Spellings in the closed alias table, and spellings only pint reads.
TABLE_SPELLINGS = ("pg/mL", "PG/ML", "pmol/L", "ng/L", "nmol/L", "umol/L", "µmol/l", "mg/dL")
PINT_SPELLINGS = ("picomole/liter", "pg/cm^3", "micromole/liter", "nanogram/milliliter")
CONVERSIONS = [
    ("b12", "pg/mL"),
    ("b12", "PG/ML"),
    ("b12", "pmol/L"),
    ("b12", "ng/L"),
    ("b12", "picomole/liter"),
    ("b12", "pg/cm^3"),
    ("mma", "umol/L"),
    ("mma", "µmol/l"),
    ("mma", "micromole/liter"),
    ("mma", "mg/dL"),
    ("hcy", "nmol/L"),
    ("folate", "nanogram/milliliter"),
]

_CACHE_SCRIPT = textwrap.dedent(
    """
    import json, logging, sys
    PATCH = sys.argv[2]
    if PATCH:
        import platformdirs
        platformdirs.user_cache_dir = lambda *a, **k: PATCH
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("LOG %(name)s %(levelname)s %(message)s"))
    logging.getLogger("b12labs").addHandler(handler)
    logging.getLogger("b12labs").setLevel(logging.DEBUG)
    import b12labs
    out = []
    for analyte, unit in json.loads(sys.argv[1]):
        out.append(repr(b12labs.convert(100.0, unit, "pmol/L" if analyte == "b12" else
                                        "umol/L" if analyte in ("mma", "hcy") else "nmol/L",
                                        analyte=analyte)))
    for cell in json.loads(sys.argv[3]):
        try:
            b12labs.interpret(b12=cell)
        except b12labs.B12LabsError:
            pass
    print(json.dumps({"answers": out, "pint": "pint" in sys.modules}))
    """
)


def _run_cache(
    env_cache: str | None,
    *,
    home: Path,
    patch: str = "",
    cells: tuple[Any, ...] = (),
    conversions: list[tuple[str, str]] = CONVERSIONS,
) -> tuple[dict[str, Any], str]:
    env = {k: v for k, v in os.environ.items() if k != "B12LABS_UNIT_CACHE"}
    env["XDG_CACHE_HOME"] = str(home / "xdg")
    env["HOME"] = str(home)
    if env_cache is not None:
        env["B12LABS_UNIT_CACHE"] = env_cache
    proc = subprocess.run(
        [sys.executable, "-c", _CACHE_SCRIPT, json.dumps(conversions), patch, json.dumps(cells)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


def _cache_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


_OTHER_UNIT = {
    "pmol/L": "nmol/L",
    "nmol/L": "umol/L",
    "umol/L": "nmol/L",
    "pg/mL": "ng/mL",
    "ng/L": "ug/L",
    "ng/mL": "pg/mL",
    "mg/dL": "mg/L",
}


def _tamper(value: Any, how: str) -> Any:
    """Every leaf changed: numbers x10 and unit codes swapped ('edit'), or null ('null')."""
    if isinstance(value, dict):
        return {k: _tamper(v, how) for k, v in value.items()}
    if isinstance(value, list):
        return [_tamper(v, how) for v in value]
    if how == "null":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value * 10
    if isinstance(value, str):
        return _OTHER_UNIT.get(value, value)
    return value


@pytest.fixture(scope="module")
def fresh_answers(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The answers with no cache at all."""
    result, _ = _run_cache(None, home=tmp_path_factory.mktemp("nocache"))
    return result["answers"]


@pytest.mark.parametrize("how", ["edit", "null"])
def test_an_edited_cache_file_cannot_change_an_answer(
    tmp_path: Path, fresh_answers: list[str], how: str
) -> None:
    folder = tmp_path / "cache"
    first, _ = _run_cache(str(folder), home=tmp_path)
    assert first["answers"] == fresh_answers
    files = [p for p in _cache_files(folder) if p.suffix == ".json"]
    assert files, "the cache wrote no factors file"
    for path in files:
        path.write_text(json.dumps(_tamper(json.loads(path.read_text("utf-8")), how)), "utf-8")
    again, log = _run_cache(str(folder), home=tmp_path)
    assert again["answers"] == fresh_answers
    assert re.search(r"LOG b12labs\S* WARNING .*cache", log), log


@pytest.mark.parametrize(
    "content",
    [b"not json", b"[]", b'{"a": 1}', b"[" * 100_000, b"\xff\xfe\x00", b""],
    ids=["text", "list", "object", "deep", "binary", "empty"],
)
def test_a_corrupt_cache_file_is_ignored(
    tmp_path: Path, fresh_answers: list[str], content: bytes
) -> None:
    folder = tmp_path / "cache"
    _run_cache(str(folder), home=tmp_path)
    for path in _cache_files(folder):
        if path.suffix == ".json":
            path.write_bytes(content)
    again, log = _run_cache(str(folder), home=tmp_path)
    assert again["answers"] == fresh_answers
    assert "Traceback" not in log


def test_the_cache_saves_pint_on_the_next_run(tmp_path: Path, fresh_answers: list[str]) -> None:
    folder = tmp_path / "cache"
    first, _ = _run_cache(str(folder), home=tmp_path)
    assert first["pint"]  # the pint spellings needed pint once
    again, _ = _run_cache(str(folder), home=tmp_path)
    assert again == {"answers": fresh_answers, "pint": False}


def test_table_spellings_need_neither_pint_nor_a_cache(tmp_path: Path) -> None:
    table = [(a, u) for a, u in CONVERSIONS if u in TABLE_SPELLINGS]
    result, _ = _run_cache(None, home=tmp_path, conversions=table)
    assert result["pint"] is False


def test_the_cache_holds_no_pickle(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    _run_cache(str(folder), home=tmp_path)
    _run_cache(str(folder), home=tmp_path)
    names = [p.name for p in _cache_files(folder)]
    assert names, "nothing cached"
    for name in names:
        assert re.fullmatch(r"factors-[0-9A-Za-z.+_-]+\.json|key", name), names


def test_a_pickle_planted_in_the_cache_folder_is_never_loaded(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    _run_cache(str(folder), home=tmp_path)
    marker = tmp_path / "pwned"

    class Boom:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.mkdir, (str(marker),))

    for sub in ("", "pint", "registry"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        for name in ("registry.pickle", "x.pickle", "defaults_en.txt.pickle"):
            (folder / sub / name).write_bytes(pickle.dumps(Boom()))
    _run_cache(str(folder), home=tmp_path)
    assert not marker.exists()


def test_the_cache_never_holds_cell_text(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    long_unit = "picomole" + " " * 40 + "/ liter"  # pint reads it; too long to keep
    cells = (
        "150 Smith",
        "150 John Smith pmol/L",
        f"150 {long_unit}",
        ["150", long_unit],
        "150 pg/mL",
        "150 picogram/milliliter",
    )
    _run_cache(str(folder), home=tmp_path, cells=cells)
    files = _cache_files(folder)
    assert b"Smith" not in b"".join(p.read_bytes() for p in files)
    spellings = [
        s for p in files if p.suffix == ".json" for s in _strings(json.loads(p.read_text("utf-8")))
    ]
    spellings = [s for s in spellings if not re.fullmatch("[0-9a-f]{64}", s)]  # checksums
    assert spellings, "nothing cached"
    assert all(len(s) <= 32 for s in spellings), spellings


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(s for v in value.values() for s in _strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_auto_cache_lives_in_the_platform_cache_folder(tmp_path: Path) -> None:
    platform = tmp_path / "platform-cache"
    _run_cache(":auto:", home=tmp_path, patch=str(platform))
    assert _cache_files(platform), "nothing written to platformdirs.user_cache_dir('b12labs')"
    assert not (tmp_path / "xdg").exists() or not _cache_files(tmp_path / "xdg")


def test_an_unwritable_cache_is_logged_not_raised(tmp_path: Path, fresh_answers: list[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", "utf-8")
    result, log = _run_cache(str(blocker / "cache"), home=tmp_path)
    assert result["answers"] == fresh_answers
    assert re.search(r"LOG b12labs\S* WARNING .*cache", log), log
    assert "Traceback" not in log


# ----------------------------------------------------------------------------- input sizes


def _timed(code: str, timeout: float = 20) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_huge_unit_text_is_refused_before_parsing() -> None:
    out = _timed(
        textwrap.dedent(
            """
            import time, b12labs
            start = time.perf_counter()
            for call in (
                lambda: b12labs.interpret(b12=(150, "p" * 100_000)),
                lambda: b12labs.interpret(b12=(150, "pmol/L " * 15_000)),
                lambda: b12labs.convert(1.0, "pmol/L" + " *L/L" * 20_000, "pmol/L", analyte="b12"),
            ):
                try:
                    call()
                except b12labs.UnitError as e:
                    print(type(e).__name__, e.analyte, len(str(e)), len(e.unit))
            print("SECONDS", time.perf_counter() - start)
            """
        )
    )
    lines = out.splitlines()
    assert float(lines[-1].split()[1]) < 2.0, out
    assert len(lines) == 4, out
    for line in lines[:3]:
        kind, analyte, message_length, _ = line.split()
        assert kind == "UnknownUnitError"
        assert analyte == "b12"
        assert int(message_length) < 400


def test_a_huge_measurement_text_is_refused_before_parsing() -> None:
    text = "150 " + "1" * 100_000 + " pmol/L"
    with pytest.raises(b12labs.InvalidValueError) as info:
        b12labs.interpret(b12=text)
    error = info.value
    assert error.analyte == "b12"
    assert error.value == text
    assert len(str(error)) < 400
    assert "64" in str(error)


def test_unit_length_limit_is_32_characters() -> None:
    ok = "pmol" + " " * 24 + "/  L"  # 32 characters
    assert len(ok) == 32
    assert b12labs.interpret(b12=(150, ok)).markers["b12"].value == 150
    with pytest.raises(b12labs.UnknownUnitError, match="32 characters") as info:
        b12labs.interpret(b12=(150, ok + " L/L"[:1] + "x"))
    assert info.value.analyte == "b12"
    with pytest.raises(b12labs.UnitError, match="32 characters"):
        b12labs.Measurement(value=1, unit="p" * 33)


def test_measurement_text_length_limit_is_64_characters() -> None:
    ok = "150" + " " * 55 + "pmol/L"
    assert len(ok) == 64
    assert b12labs.interpret(b12=ok).markers["b12"].value == 150
    assert b12labs.interpret(b12="   " + ok + "   ").markers["b12"].value == 150  # trimmed
    with pytest.raises(b12labs.InvalidValueError, match="64 characters"):
        b12labs.interpret(b12="150 " + ok)


def test_long_values_are_truncated_in_messages() -> None:
    for kwargs in (
        {"sex": "x" * 10_000},
        {"symptoms": ["y" * 10_000]},
        {"b12": ("z" * 10_000, "pmol/L")},
        {"age": "9" * 10_000},
    ):
        with pytest.raises(b12labs.B12LabsError) as info:
            b12labs.interpret(**kwargs)
        assert len(str(info.value)) < 1000, kwargs


def test_code_lists_are_limited_in_length() -> None:
    out = _timed(
        textwrap.dedent(
            """
            import itertools, b12labs
            try:
                b12labs.interpret(symptoms=itertools.repeat("tremor"))  # never ends
            except b12labs.InvalidValueError as e:
                print(e.analyte)
            """
        ),
        timeout=20,
    )
    assert out.split() == ["symptoms"]
    with pytest.raises(b12labs.InvalidValueError, match="risk_factors"):
        b12labs.interpret(risk_factors=["metformin"] * 1000)


# ----------------------------------------------------------------------------- threads

_THREADS = textwrap.dedent(
    """
    import json, threading
    import b12labs
    B12 = ["picomole/liter", "pg/cm^3", "picogram/milliliter", "pmol/dm^3",
           "ng/dm^3", "nanogram/liter", "picomol/liter", "pg/cm**3"]
    MMA = ["micromole/liter", "umol/dm^3", "nmol/cm^3", "micromol/liter",
           "mmol/m^3", "nanomole/milliliter", "umol/dm**3", "micromolar"]
    barrier = threading.Barrier(8)
    out = [None] * 8
    def work(i):
        barrier.wait()
        try:
            r = b12labs.interpret(b12=f"300 {B12[i]}", mma=f"0.3 {MMA[i]}",
                                  hcy="12 micromole/liter", age=50)
            out[i] = r.model_dump_json()
        except Exception as e:
            out[i] = f"ERROR {type(e).__module__}.{type(e).__name__}: {e}"
    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(json.dumps(out))
    """
)
_B12 = ["picomole/liter", "pg/cm^3", "picogram/milliliter", "pmol/dm^3"]
_B12 += ["ng/dm^3", "nanogram/liter", "picomol/liter", "pg/cm**3"]
_MMA = ["micromole/liter", "umol/dm^3", "nmol/cm^3", "micromol/liter"]
_MMA += ["mmol/m^3", "nanomole/milliliter", "umol/dm**3", "micromolar"]


def test_first_calls_from_eight_threads_in_fresh_processes_agree() -> None:
    expected = [
        b12labs.interpret(
            b12=f"300 {b}", mma=f"0.3 {m}", hcy="12 micromole/liter", age=50
        ).model_dump_json()
        for b, m in zip(_B12, _MMA, strict=True)
    ]
    env = {k: v for k, v in os.environ.items() if k != "B12LABS_UNIT_CACHE"}
    processes = 16
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _THREADS],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(processes)
    ]
    failures = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        answers = json.loads(stdout)
        failures += [a for a, e in zip(answers, expected, strict=True) if a != e]
    assert not failures, failures[:3]


def test_lazy_globals_are_built_once_under_threads() -> None:
    # In this process the caches may be warm; what matters: same answers, no error.
    results: list[Any] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        results.append(b12labs.interpret(b12="300 picomole/liter", profile="mayo-cascade"))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8
    assert all(r == results[0] for r in results)


# ----------------------------------------------------------------------------- leaks

LEAKS: list[Any] = [
    pytest.param(lambda: b12labs.interpret(age=10**400), "age", id="age 10**400"),
    pytest.param(lambda: b12labs.interpret(age=10**5000), "age", id="age 10**5000"),
    pytest.param(lambda: b12labs.interpret(egfr=-(10**400)), "egfr", id="egfr -10**400"),
    pytest.param(lambda: b12labs.interpret(b12=(10**400, "pmol/L")), "b12", id="b12 10**400"),
    pytest.param(
        lambda: b12labs.interpret(b12=(Decimal("sNaN"), "pmol/L")), "b12", id="Decimal sNaN"
    ),
    pytest.param(lambda: b12labs.interpret(symptoms=5), "symptoms", id="symptoms=5"),
    pytest.param(
        lambda: b12labs.interpret(b12="300 pmol/L", profile=None), None, id="profile None"
    ),
    pytest.param(lambda: b12labs.interpret(b12="300 pmol/L", profile=5), None, id="profile 5"),
    pytest.param(
        lambda: b12labs.cb12(holotc=50, b12=300, mma=0.3, hcy=10, age=None),
        "age",
        id="cb12 age None",
    ),
    pytest.param(
        lambda: b12labs.cb12(holotc=50, b12=300, mma=0.3, hcy=10, age="old"),
        "age",
        id="cb12 age text",
    ),
    pytest.param(
        lambda: b12labs.cb12(holotc=50, b12=300, mma=0.3, hcy=10, age=10**400),
        "age",
        id="cb12 age 10**400",
    ),
    pytest.param(lambda: b12labs.Measurement.parse(5), None, id="parse int"),  # type: ignore[arg-type]
    pytest.param(
        lambda: b12labs.Measurement(value=1, unit="pmol/L", censor="!"),
        None,
        id="Measurement bad censor",
    ),
    pytest.param(
        lambda: b12labs.Measurement(value=1, unit="pmol/L", source=5),
        None,
        id="Measurement bad source",
    ),
    pytest.param(lambda: b12labs.accepted_units(["b12"]), None, id="accepted_units list"),
    pytest.param(
        lambda: b12labs.convert("abc", "pmol/L", "pmol/L", analyte="b12"),
        "b12",
        id="convert text value",
    ),
    pytest.param(
        lambda: b12labs.convert(1.0, 5, "pmol/L", analyte="b12"), "b12", id="convert int unit"
    ),
    pytest.param(
        lambda: b12labs.convert(1.0, ["pmol/L"], "pmol/L", analyte="b12"),
        "b12",
        id="convert list unit",
    ),
    pytest.param(
        lambda: b12labs.convert(10**400, "pmol/L", "nmol/L", analyte="b12"),
        "b12",
        id="convert 10**400",
    ),
    pytest.param(lambda: b12labs.load_profile(5), None, id="load_profile int"),  # type: ignore[arg-type]
    pytest.param(lambda: b12labs.load_profile("lab\x00.toml"), None, id="load_profile NUL"),
    pytest.param(lambda: b12labs.load_profile({"id": "x" * 10**6}), None, id="huge id"),
    pytest.param(lambda: b12labs.Threshold(below=1), None, id="Threshold()"),
    pytest.param(lambda: b12labs.Profile(id="x"), None, id="Profile()"),
    pytest.param(lambda: b12labs.interpret(sex=["f"]), "sex", id="sex list"),
    pytest.param(lambda: b12labs.interpret(b12=-0.0), "b12", id="b12 -0.0 no unit"),
]


@pytest.mark.parametrize(("call", "analyte"), LEAKS)
def test_public_calls_raise_only_library_errors(
    call: Callable[[], Any], analyte: str | None
) -> None:
    with pytest.raises(b12labs.B12LabsError) as info:
        call()
    if analyte is not None:
        assert info.value.analyte == analyte
    assert len(str(info.value)) < 1000


def test_deep_profile_json_is_a_profile_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(b12labs.InvalidProfileError, match="deep"):
        b12labs.load_profile(path)
    toml = tmp_path / "deep.toml"
    toml.write_text("a = " + "[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(b12labs.InvalidProfileError):
        b12labs.load_profile(toml)


def test_deep_profile_mapping_is_a_profile_error() -> None:
    deep: Any = "x"
    for _ in range(100_000):
        deep = {"b12": deep}
    with pytest.raises(b12labs.InvalidProfileError):
        b12labs.load_profile({"id": "deep", "b12": deep})


def test_a_latin1_profile_file_must_be_utf8(tmp_path: Path) -> None:
    path = tmp_path / "lab.toml"
    path.write_bytes('id = "lab"\ntitle = "Laboratoire Hôpital"\n'.encode("latin-1"))
    with pytest.raises(b12labs.InvalidProfileError, match="UTF-8"):
        b12labs.load_profile(path)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        pytest.param(lambda: b12labs.interpret(b12="300 pmol/L", agee=70), ("'agee'", "age")),
        pytest.param(lambda: b12labs.interpret({"b12": "300 pmol/L", "B12": 1}), ("'B12'", "b12")),
        pytest.param(lambda: b12labs.interpret({1: "300 pmol/L"}), ("1",)),
        pytest.param(lambda: Panel(b12="300 pmol/L", weight=80), ("'weight'", "symptoms")),
    ],
)
def test_an_unknown_keyword_is_a_type_error(call: Callable[[], Any], words: tuple[str]) -> None:
    with pytest.raises(TypeError) as info:
        call()
    assert not isinstance(info.value, ValueError)  # not a pydantic ValidationError
    message = str(info.value)
    assert "unexpected" in message
    for word in words:
        assert word in message, message


# ----------------------------------------------------------------------------- exceptions

ERROR_NAMES = [n for n in b12labs.__all__ if n.endswith("Error")]


@pytest.mark.parametrize("name", ERROR_NAMES)
def test_public_errors_report_the_public_module(name: str) -> None:
    cls = getattr(b12labs, name)
    assert cls.__module__ == "b12labs"
    assert repr(cls) == f"<class 'b12labs.{name}'>"
    error = cls("boom", analyte="b12", value=150, unit="pmol/L")
    line = "".join(traceback.format_exception_only(error)).strip()
    assert line == f"b12labs.{name}: boom"
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is cls
    assert (again.message, again.analyte, again.value, again.unit) == ("boom", "b12", 150, "pmol/L")
    assert pickle.loads(pickle.dumps(cls)) is cls
    assert repr(again) == repr(error)


def test_raised_errors_show_the_public_module_in_a_traceback() -> None:
    try:
        b12labs.interpret(b12="150 blorps/L")
    except b12labs.B12LabsError as error:
        text = "".join(traceback.format_exception(error))
    assert "b12labs.UnknownUnitError: b12: unit 'blorps/L'" in text
    assert "b12labs._exceptions" not in text


# ----------------------------------------------------------------------------- report


def _line(report: str, key: str) -> str:
    return next(line for line in report.splitlines() if line.strip().startswith(key + " "))


def test_report_shows_the_value_in_the_unit_of_its_normal_range() -> None:
    # 150 pmol/L of cobalamin = 150 * 1355.37 / 1000 ng/L = 203.3 ng/L.
    line = _line(b12labs.interpret(b12="150 pmol/L").report(), "b12")
    assert line.rstrip().endswith("normal: > 350 and ≤ 914 ng/L (result 203.3 ng/L)"), line
    line = _line(b12labs.interpret(b12="400 ng/L").report(), "b12")
    assert "> 350 and ≤ 914 ng/L (result 400 ng/L)" in line, line


def test_report_does_not_repeat_a_value_already_in_the_ranges_unit() -> None:
    line = _line(b12labs.interpret(mma="0.52 umol/L", age=70).report(), "mma")
    assert line.count("0.52 umol/L") == 2, line  # as given, and canonical
    assert line.rstrip().endswith("normal: ≤ 0.46 umol/L"), line


def test_report_shows_censored_values_with_their_comparator() -> None:
    line = _line(b12labs.interpret(b12="<100 pmol/L").report(), "b12")
    assert "(result <135.5 ng/L)" in line, line


# ----------------------------------------------------------------------------- logging, license


def test_the_b12labs_logger_has_a_null_handler() -> None:
    handlers = logging.getLogger("b12labs").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def test_license_is_mit_and_matches_pyproject() -> None:
    text = (ROOT / "LICENSE").read_text("utf-8")
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 b12labs developers" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    assert meta["project"]["license"] == "MIT"


def test_pydantic_validation_api_keeps_pydantic_errors() -> None:
    """model_validate and model_validate_json are pydantic's API: pydantic's errors."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="agee"):
        Panel.model_validate({"agee": 70})
    with pytest.raises(ValidationError, match="furlongs"):
        Panel.model_validate_json('{"b12": "150 furlongs"}')
    with pytest.raises(ValidationError, match="version"):
        b12labs.Profile.model_validate({"id": "x"})
    with pytest.raises(ValidationError, match="reserved"):
        b12labs.Profile.model_validate(_nice_with_lower_b12_low())
    assert Panel.model_validate({"b12": "150 pmol/L"}) == Panel(b12="150 pmol/L")
    nice = b12labs.get_profile(NICE)
    assert b12labs.Profile.model_validate(nice.model_dump()).model_dump() == nice.model_dump()


def test_long_leading_spaces_do_not_stall_the_parser():
    # A cell of 100,000 spaces and one letter once took about 50 s: the decimal-comma check
    # ran a backtracking pattern over the untrimmed text. A hang guard (subprocess with a
    # generous timeout), not a speed target.
    code = (
        "import b12labs\n"
        "for text in (' ' * 100_000 + 'x', ' ' * 100_000 + '0,45 umol/L'):\n"
        "    try:\n"
        "        b12labs.interpret(mma=text)\n"
        "    except b12labs.InvalidValueError as error:\n"
        "        print(type(error).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["InvalidValueError", "InvalidValueError"]
