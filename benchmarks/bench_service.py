"""Benchmark of the web service (``b12labs serve``, issue 12): every figure measured in this run.

The server is ``b12labs serve`` with its production settings (one uvicorn process, no reload,
uvicorn's access log replaced by the service's JSON line per request, proxy headers off),
started on 127.0.0.1 on a free port; the load comes from ``wrk`` (``apt-get install -y wrk``)
or, when wrk is not installed, from an asyncio httpx client (slower: it shares the machine
with the server, so its figures are lower bounds).

Measured at concurrency 1, 8 and 64, in the same run:

* ``POST /v1/interpret`` with the README's panel (B12, MMA, homocysteine, age, sex, eGFR,
  symptoms, risk factors);
* ``GET /healthz``, the do-nothing route of the same app (same middleware: limits and
  access log), as the ceiling of the server itself.

Printed: requests/s, p50 and p99 latency, errors (must be 0: connection errors, time-outs and
non-2xx answers), the ratio interpret / do-nothing throughput (target: 0.5 or more), and the
server's resident memory at the start and the end of the load (flat: no growth per request).

Run:  python benchmarks/bench_service.py [--quick] [--seconds S]
      (default 5 s per setting, 30 s of load; --quick: 2 s per setting, under 20 s in all)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

PANEL = {
    "b12": "150 pmol/L",
    "mma": "0.52 umol/L",
    "hcy": "12 umol/L",
    "age": 70,
    "sex": "female",
    "egfr": 78,
    "symptoms": ["tremor", "muscle_cramps"],
    "risk_factors": ["metformin"],
}
CONCURRENCY = (1, 8, 64)
TARGET_RATIO = 0.5
_WRK_SCRIPT = """
wrk.method = "{method}"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  io.write(string.format(
    '@@{{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"p50_us":%d,"p99_us":%d}}\\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mib(pid: int) -> float:
    """Resident memory of a process, in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(log: Any) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "b12labs", "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped (exit {server.returncode}); see {log.name}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return server, base
        except httpx.TransportError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("the server did not start in 30 s")


def run_wrk(
    url: str, method: str, body: str | None, connections: int, seconds: float
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            _WRK_SCRIPT.format(method=method, body=json.dumps(body) if body is not None else "nil")
        )
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s",
             "-s", script.name, url],
            capture_output=True, text=True, check=True, timeout=seconds + 30,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    line = next(x for x in out.splitlines() if x.startswith("@@"))
    raw = json.loads(line[2:])
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"]
    return {
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "errors": errors,
        "requests": raw["requests"],
    }


async def _httpx_load(
    url: str, method: str, body: str | None, connections: int, seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=5) as client:
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                began = time.perf_counter()
                try:
                    response = await client.request(method, url, content=body, headers=headers)
                    if response.status_code >= 300:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "errors": errors,
        "requests": len(latencies),
    }


def combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of one route and setting: total throughput, median p50 and p99, all errors."""
    seconds = sum(r["requests"] / r["rps"] for r in rounds if r["rps"])
    requests = sum(r["requests"] for r in rounds)
    return {
        "rps": requests / seconds if seconds else 0.0,
        "p50_ms": statistics.median(r["p50_ms"] for r in rounds),
        "p99_ms": statistics.median(r["p99_ms"] for r in rounds),
        "errors": sum(r["errors"] for r in rounds),
        "requests": requests,
    }


def load(
    url: str, method: str, body: str | None, connections: int, seconds: float
) -> dict[str, Any]:
    if shutil.which("wrk"):
        return run_wrk(url, method, body, connections, seconds)
    return asyncio.run(_httpx_load(url, method, body, connections, seconds))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 s per setting (under 20 s)")
    parser.add_argument("--seconds", type=float, help="seconds of load per route and setting")
    args = parser.parse_args()
    seconds = args.seconds or (2.0 if args.quick else 5.0)
    step = 1.0  # seconds per round (wrk's resolution)
    rounds = max(1, round(seconds / step))
    tool = "wrk" if shutil.which("wrk") else "httpx (asyncio; wrk not installed)"
    body = json.dumps(PANEL)
    started = time.perf_counter()
    with tempfile.NamedTemporaryFile("w+b", prefix="b12labs-serve-", suffix=".log") as log:
        server, base = start_server(log)
        try:
            # one request each: both routes answer, and the answer is the library's
            check = httpx.post(f"{base}/v1/interpret", content=body, timeout=10,
                               headers={"content-type": "application/json"})  # fmt: skip
            assert check.status_code == 200, check.text
            assert check.json()["status"] == "deficiency_likely"
            rss_start = rss_mib(server.pid)
            print(
                f"b12labs serve on {base} (one process); load: {tool}, {rounds} rounds of "
                f"{step:g} s per route and setting, the routes alternating"
            )
            print(
                f"{'route':<22} {'conc.':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
            )
            rows: list[tuple[int, dict[str, Any], dict[str, Any], float]] = []
            for connections in CONCURRENCY:
                # the two routes alternate in short rounds, so that a change in the machine's
                # load (a shared machine) falls on both alike; the ratio is the median of the
                # rounds' ratios
                idle_rounds, busy_rounds = [], []
                for _ in range(rounds):
                    idle_rounds.append(load(f"{base}/healthz", "GET", None, connections, step))
                    busy_rounds.append(
                        load(f"{base}/v1/interpret", "POST", body, connections, step)
                    )
                idle, busy = combine(idle_rounds), combine(busy_rounds)
                ratio = statistics.median(
                    b["rps"] / i["rps"] for i, b in zip(idle_rounds, busy_rounds, strict=True)
                )
                for name, r in (("GET /healthz", idle), ("POST /v1/interpret", busy)):
                    print(
                        f"{name:<22} {connections:>5} {r['rps']:>9,.0f} {r['p50_ms']:>8.2f} "
                        f"{r['p99_ms']:>8.2f} {r['errors']:>7}"
                    )
                rows.append((connections, idle, busy, ratio))
            rss_end = rss_mib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print()
    errors = 0
    for connections, idle, busy, ratio in rows:
        verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
        print(
            f"concurrency {connections:>2}: interpret / do-nothing = {busy['rps']:,.0f} / "
            f"{idle['rps']:,.0f} req/s; median ratio of the rounds {ratio:.2f} ({verdict} the "
            f"target {TARGET_RATIO})"
        )
        errors += idle["errors"] + busy["errors"]
    print(f"errors: {errors} (target 0)")
    print(
        f"server resident memory: {rss_start:.1f} MiB at the start, {rss_end:.1f} MiB at the "
        f"end ({rss_end - rss_start:+.1f} MiB after "
        f"{sum(i['requests'] + b['requests'] for _, i, b, _ in rows):,} requests)"
    )
    print(f"total {time.perf_counter() - started:.1f} s")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
