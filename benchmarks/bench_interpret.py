"""Benchmark of the single-panel path and of the cold import.

Targets (issue #2), all measured in this one run so the ratios compare like with like:

* ``interpret()`` on a panel of B12, MMA, homocysteine and age: median <= 25 µs after
  warm-up, and <= 15 x the cost of constructing the input ``Panel`` alone.
* Cold ``python -c "import b12labs"``: <= 0.6 x ``python -c "import pandas"`` (issue #13:
  <= 0.35 x).
* Issue #13: ``interpret(**keywords)`` <= 3 x and ``interpret(panel)`` <= 2 x a plain-Python
  baseline (``baseline`` below) that parses the same strings with one regex and applies the
  same NICE thresholds, measured in this run.

Run:  python benchmarks/bench_interpret.py [--quick]

The machine is shared and noisy: every figure is a median over many batches, and the
import timings interleave the commands so that load affects both alike. The imports are
timed with bytecode cached, as after ``pip install`` (``installed_environment``). A second
single-panel figure uses a new value on every call (no cache hit), for information. The
script prints the figures and whether each target was met; it is not a pass/fail test.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import b12labs
from b12labs import Panel, interpret

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_frame import installed_environment

PANEL_KWARGS = {"b12": "150 pmol/L", "mma": "0.52 umol/L", "hcy": "12 umol/L", "age": 70}

# The plain-Python baseline: one regex for "[<|>] number [unit]" (thousands separators
# allowed), pg/mL to pmol/L by the molar mass 1355.37 g/mol, NICE NG239 B12 bands with the
# MMA resolution of an indeterminate B12 (thresholds as plain numbers; the library reads
# them from its profile data). No validation, no findings, no provenance.
_MEASUREMENT = re.compile(r"^\s*([<>]=?)?\s*([0-9][0-9,]*(?:\.[0-9]*)?)\s*([^\s0-9].*?)?\s*$")
_TO_PMOL_L = {"pmol/L": 1.0, "pg/mL": 1 / 1.35537, "ng/L": 1 / 1.35537}
_B12_LOW, _B12_INDET = 180 / 1.35537, 350 / 1.35537


def _number(text: str) -> tuple[float, str | None]:
    match = _MEASUREMENT.match(text)
    if match is None:
        raise ValueError(text)
    return float(match[2].replace(",", "")), match[3]


def baseline(b12: str, mma: str, hcy: str, age: float) -> str:
    value, unit = _number(b12)
    value *= _TO_PMOL_L[unit or "pmol/L"]
    mma_value = _number(mma)[0]
    _number(hcy)
    elevated = mma_value > (0.46 if age >= 65 else 0.40)
    if value < _B12_LOW:
        return "deficiency_likely"
    if value <= _B12_INDET:
        return "deficiency_likely" if elevated else "not_indicated"
    if mma_value > 0.75:
        return "deficiency_likely"
    return "borderline" if elevated else "not_indicated"


def per_call_distinct(
    fn: Callable[[dict[str, object]], object], inputs: list[dict[str, object]], *, per_batch: int
) -> float:
    """Median over batches of the mean time of one call, each call on new inputs."""
    for kwargs in inputs[:per_batch]:  # warm-up on inputs not timed again
        fn(kwargs)
    samples = []
    for start in range(per_batch, len(inputs) - per_batch + 1, per_batch):
        batch = inputs[start : start + per_batch]
        began = time.perf_counter()
        for kwargs in batch:
            fn(kwargs)
        samples.append((time.perf_counter() - began) / per_batch)
    return statistics.median(samples)


def per_call_median(fn: Callable[[], object], *, batches: int, per_batch: int) -> float:
    """Median over batches of the mean time of one call, in seconds."""
    for _ in range(per_batch):  # warm-up: caches (units, profiles, rules) are filled here
        fn()
    samples = []
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(per_batch):
            fn()
        samples.append((time.perf_counter() - start) / per_batch)
    return statistics.median(samples)


def cold_command_seconds(code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (CI)")
    args = parser.parse_args()
    batches, per_batch, import_runs = (15, 500, 5) if args.quick else (41, 2000, 15)

    panel = Panel(**PANEL_KWARGS)
    t_panel = per_call_median(lambda: Panel(**PANEL_KWARGS), batches=batches, per_batch=per_batch)
    t_interpret = per_call_median(lambda: interpret(panel), batches=batches, per_batch=per_batch)
    t_keywords = per_call_median(
        lambda: interpret(**PANEL_KWARGS), batches=batches, per_batch=per_batch
    )
    t_baseline = per_call_median(
        lambda: baseline(**PANEL_KWARGS),  # type: ignore[arg-type]
        batches=batches,
        per_batch=per_batch,
    )

    # Distinct results, as in a clinic's day: every call a new B12 and MMA value (the
    # caches of repeated texts and results do not help), against the baseline on the same.
    distinct = [
        PANEL_KWARGS | {"b12": f"{100 + i * 0.1:.1f} pmol/L", "mma": f"{0.2 + i / 1e4:.4f} umol/L"}
        for i in range(per_batch * batches + per_batch)
    ]
    t_distinct = per_call_distinct(lambda kw: interpret(**kw), distinct, per_batch=per_batch)
    t_baseline_distinct = per_call_distinct(
        lambda kw: baseline(**kw), distinct, per_batch=per_batch
    )

    # Interleave the three commands so background load hits each of them alike.
    commands = {
        "python -c pass": "pass",
        "python -c 'import b12labs'": "import b12labs",
        "python -c 'import pandas'": "import pandas",
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as cache:
        env = installed_environment(cache)
        for code in commands.values():  # untimed: writes the bytecode, as pip install does
            cold_command_seconds(code, env)
        for _ in range(import_runs):
            for name, code in commands.items():
                times[name].append(cold_command_seconds(code, env))
    cold = {name: statistics.median(values) for name, values in times.items()}
    t_b12labs = cold["python -c 'import b12labs'"]
    t_pandas = cold["python -c 'import pandas'"]
    t_bare = cold["python -c pass"]

    print(f"b12labs {b12labs.__version__}, Python {sys.version.split()[0]}")
    print(f"panel: {PANEL_KWARGS}")
    print(f"Panel(...) construction        median {t_panel * 1e6:8.2f} µs")
    print(f"interpret(panel)               median {t_interpret * 1e6:8.2f} µs")
    print(f"interpret(**keywords)          median {t_keywords * 1e6:8.2f} µs  (parsing included)")
    print(f"plain-Python baseline          median {t_baseline * 1e6:8.2f} µs  (one regex)")
    ratio = t_interpret / t_panel
    print(f"interpret(panel) / Panel(...)  ratio  {ratio:8.2f}")
    vs_keywords, vs_panel = t_keywords / t_baseline, t_interpret / t_baseline
    print(f"interpret(**keywords) / baseline ratio {vs_keywords:7.2f}")
    print(f"interpret(panel) / baseline    ratio  {vs_panel:8.2f}")
    print(
        f"distinct values: interpret(**keywords) {t_distinct * 1e6:.2f} µs, baseline "
        f"{t_baseline_distinct * 1e6:.2f} µs, ratio {t_distinct / t_baseline_distinct:.2f} "
        "(no cache hit; information, not a target)"
    )
    for name, value in cold.items():
        print(f"{name:<31}median {value * 1e3:8.1f} ms")
    import_ratio = t_b12labs / t_pandas
    net = (t_b12labs - t_bare) / max(t_pandas - t_bare, 1e-9)
    print(f"import b12labs / import pandas ratio  {import_ratio:8.2f}  (net of start-up {net:.2f})")
    print()
    checks = [
        ("interpret(panel) median <= 25 µs", t_interpret <= 25e-6),
        ("interpret(panel) <= 15 x Panel(...)", ratio <= 15),
        ("cold import b12labs <= 0.6 x cold import pandas", import_ratio <= 0.6),
        ("interpret(**keywords) <= 3 x plain-Python baseline", vs_keywords <= 3),
        ("interpret(panel) <= 2 x plain-Python baseline", vs_panel <= 2),
        ("cold import b12labs <= 0.35 x cold import pandas", import_ratio <= 0.35),
    ]
    for label, ok in checks:
        print(f"{'met   ' if ok else 'MISSED'}  {label}")


if __name__ == "__main__":
    main()
