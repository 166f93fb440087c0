"""Benchmark of the HTTP API against `mlflow models serve` on the same registered model, same run.

Measures POST /v1/recommendations (k=5, 3 roles) latency p50/p99 at each home's partner count with one
worker, requests alternating with the MLflow pyfunc server of the same model
(`mlflow models serve -m models:/partner-team-ranker@champion --env-manager local`), the baseline; then
throughput of each with 2 workers on the first home.

Homes are prepared with the fast hashing embedder (generate + ingest + train): pass them with --home, or
let --prepare build them under --work (slow: minutes at 100k partners).

Throughput is measured by the Python client and, when `wrk` is installed (`apt-get install wrk`), by wrk,
which leaves the 2 cores to the servers.

Usage: .venv/bin/python bench/api.py --home /tmp/h10k --home /tmp/h100k [--requests 400]
Prints a JSON summary and saves it to bench/results/api.json.

With --shadow, measures instead what shadow scoring costs: a registered version is made the `challenger`
(--challenger-version, default the champion itself) and two API servers of the same home answer
alternating blocks of requests (`blocked_latency`), one with PM_SHADOW_ENABLED=false, one ranking
every request again with the challenger after answering it (PM_SHADOW_SAMPLE_RATE=1). The alias is
restored afterwards.
Usage: .venv/bin/python bench/api.py --home /tmp/h10k --shadow --out bench/results/api-shadow-10000.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from bench.report import results_dir
from core.settings import CHAMPION_ALIAS, REGISTERED_MODEL_NAME, Settings
from features import schema as s
from serving.auth import create_key
from serving.persistence import ApiStore
from tests.servers import free_port

RESULTS = results_dir() / "api.json"
WARMUP_SECONDS = 10.0
WRK_RUNS = 7  # throughput runs of wrk, each with fresh connections (see `wrk_throughput`)
ROOT = Path(__file__).resolve().parents[1]
HASHING = "hashing"  # the fast stand-in embedder benchmark homes use unless told otherwise
TRAIN_CONFIG = """
seed = 7
[ranker]
num_boost_round = 60
min_data_in_leaf = 10
[data]
max_train_opportunities = 400
max_valid_opportunities = 150
alternatives_per_opportunity = 20
[evaluation]
# Keeps the homes' training quick; the search budget stays the default, which the bundle records and
# the server then uses.
pool_size = 100
"""


def cli(home: Path, *args: str, embedder: str = HASHING) -> None:
    env = {**os.environ, "PM_HOME": str(home), "PM_EMBEDDER": embedder}
    subprocess.run([sys.executable, "-m", "partnermatch.cli", *args], env=env, check=True)


def prepare(work: Path, partners: int, opportunities: int | None = None, embedder: str = HASHING) -> Path:
    """generate + ingest + train into work/home-<partners>[-<embedder>], once; `opportunities` defaults to
    max(50k, 2 x partners). The hashing embedder unless told: a home's partners are embedded by the one
    its server then uses for requests."""
    home = work / (f"home-{partners}" if embedder == HASHING else f"home-{partners}-{embedder}")
    if (home / "mlflow.db").exists():
        return home
    export = work / f"export-{partners}"
    work.mkdir(parents=True, exist_ok=True)
    config = work / "train.toml"
    config.write_text(TRAIN_CONFIG)
    cli(
        home,
        "generate",
        "--partners",
        str(partners),
        "--opportunities",
        str(opportunities or max(50_000, 2 * partners)),
        "--seed",
        "5",
        "--format",
        "parquet",
        "--out",
        str(export),
        embedder=embedder,
    )
    cli(home, "ingest", str(export), embedder=embedder)
    # --force: the latency benchmark needs a served model whatever its quality on these deals.
    cli(home, "train", "--force", "--config", str(config), embedder=embedder)
    return home


def open_opportunities(home: Path, n: int) -> list[dict[str, Any]]:
    """Real open opportunities of the home's store, as contract fields (the requests both servers get)."""
    frame = ApiStore.open(Settings(home=home).store_url).store.load_tables().opportunities
    rows = frame[frame[s.OUTCOME] == s.OPEN].head(n)
    out = []
    for _, row in rows.iterrows():
        out.append(
            {
                s.OPPORTUNITY_ID: str(row[s.OPPORTUNITY_ID]),
                s.CUSTOMER_INDUSTRY: None
                if pd.isna(row[s.CUSTOMER_INDUSTRY])
                else str(row[s.CUSTOMER_INDUSTRY]),
                s.REGION: None if pd.isna(row[s.REGION]) else str(row[s.REGION]),
                s.DEAL_SIZE: None if pd.isna(row[s.DEAL_SIZE]) else float(row[s.DEAL_SIZE]),
                s.REQUIRED_SKILLS: list(row[s.REQUIRED_SKILLS]),
                s.DESCRIPTION: str(row[s.DESCRIPTION] or ""),
                s.CREATED_AT: pd.Timestamp(row[s.CREATED_AT]).date().isoformat(),
            }
        )
    return out


def api_body(opp: dict[str, Any]) -> dict[str, Any]:
    return {"opportunity": opp, "k": 5}


def mlflow_body(opp: dict[str, Any]) -> dict[str, Any]:
    """The same opportunity for the pyfunc: its signature wants every column, strings never null."""
    row = {
        **{c: "" if v is None else v for c, v in opp.items()},
        s.REQUIRED_SKILLS: s.LIST_SEPARATOR.join(opp[s.REQUIRED_SKILLS]),
        # Missing and zero deal size featurise alike (log1p of 0).
        s.DEAL_SIZE: float(opp[s.DEAL_SIZE] or 0.0),
        s.REGISTERED_PARTNER_ID: "",
    }
    columns = list(s.QUERY_FIELDS)
    return {"dataframe_split": {"columns": columns, "data": [[row[c] for c in columns]]}}


class Server:
    """A server subprocess on a free port, stopped on exit."""

    def __init__(self, command: list[str], env: dict[str, str], ready_path: str, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = tempfile.NamedTemporaryFile(prefix="pm-bench-server-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
        started = time.perf_counter()
        while True:
            try:
                if httpx.get(self.url + ready_path, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.perf_counter() - started > 300:
                tail = Path(self.log.name).read_text()[-2000:]
                raise RuntimeError(f"server did not start: {' '.join(command)}\n{tail}")
            time.sleep(0.2)
        self.start_seconds = time.perf_counter() - started

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def server_env(home: Path, embedder: str = HASHING) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PM_") and k != "MLFLOW_TRACKING_URI"}
    # `mlflow models serve` starts `uvicorn` by name: the venv's bin must be on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # One BLAS/OpenMP thread per worker for both servers (2 threads ran slower on 2 cores here).
    env.update(
        PM_HOME=str(home),
        PM_EMBEDDER=embedder,
        PM_RATE_LIMIT_PER_MINUTE="10000000",
        OMP_NUM_THREADS="1",
        MLFLOW_TRACKING_URI=Settings(home=home).mlflow_tracking_uri,
    )
    return env


def api_server(
    home: Path,
    workers: int,
    code: Path | None = None,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    embedder: str = HASHING,
) -> Server:
    """Our API on the home; `code`: run it from that checkout instead (a same-minute A/B of a change);
    `database_url`: another store than the home's; `extra_env`: more PM_* settings; `embedder`: the one the
    home was trained with."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "serving.main:app",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    env = {**server_env(home, embedder), **(extra_env or {})}
    if database_url is not None:
        env["PM_DATABASE_URL"] = database_url
    if code is not None:
        # uvicorn puts --app-dir first on sys.path, ahead of the working directory (this checkout).
        command += ["--app-dir", str(code)]
        env["PYTHONPATH"] = str(code)
    return Server(command, env, "/health/ready", port)


def mlflow_server(home: Path, workers: int) -> Server:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        f"models:/{REGISTERED_MODEL_NAME}@{CHAMPION_ALIAS}",
        "--env-manager",
        "local",
        "-p",
        str(port),
        "-w",
        str(workers),
    ]
    return Server(command, server_env(home), "/ping", port)


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    path: str
    bodies: list[dict[str, Any]]
    headers: dict[str, str]


def _latency(times_ms: list[float], n: int) -> dict[str, Any]:
    """One target's request count and client-observed ms (p50, p99, mean)."""
    ms = np.asarray(times_ms)
    return {
        "requests": n,
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "mean_ms": round(float(ms.mean()), 2),
    }


def interleaved_latency(targets: list[Target], n: int) -> dict[str, dict[str, Any]]:
    """Client-observed ms per target, requests alternating between the targets (one keep-alive connection
    each) so that the machine's noise hits every server alike; the same opportunity goes to each in turn.
    """
    clients = [httpx.Client(base_url=t.url, headers=t.headers, timeout=60) for t in targets]
    times: list[list[float]] = [[] for _ in targets]
    try:
        for i in range(20 + n):
            for target, client, out in zip(targets, clients, times, strict=True):
                started = time.perf_counter()
                response = client.post(target.path, json=target.bodies[i % len(target.bodies)])
                elapsed = (time.perf_counter() - started) * 1000
                response.raise_for_status()
                if i >= 20:
                    out.append(elapsed)
    finally:
        for client in clients:
            client.close()
    return {target.name: _latency(out, n) for target, out in zip(targets, times, strict=True)}


def throughput(
    url: str,
    path: str,
    bodies: list[dict[str, Any]],
    headers: dict[str, str],
    seconds: float,
    concurrency: int,
) -> dict[str, Any]:
    """Requests/s with `concurrency` requests in flight from one asyncio client for `seconds`.

    A warm-up of WARMUP_SECONDS comes first, not counted: "ready" means one worker answered, while the
    other may still be loading its model (both load at once on 2 cores), and every worker fills its caches
    on its first requests.
    """

    async def run(seconds: float) -> tuple[int, int]:
        done = errors = 0
        stop = time.perf_counter() + seconds
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:

            async def worker(offset: int) -> None:
                nonlocal done, errors
                i = offset
                while time.perf_counter() < stop:
                    response = await client.post(path, json=bodies[i % len(bodies)])
                    done += 1
                    errors += response.status_code != 200
                    i += concurrency

            await asyncio.gather(*(worker(k) for k in range(concurrency)))
        return done, errors

    asyncio.run(run(WARMUP_SECONDS))
    out: dict[str, Any] = {}
    if shutil.which("wrk"):
        # The Python client above costs the 2 cores about a quarter of the server's throughput; wrk (C)
        # measures the server itself. Both numbers are kept.
        out = wrk_throughput(url, path, bodies, headers, seconds, concurrency)
    started = time.perf_counter()
    done, errors = asyncio.run(run(seconds))
    elapsed = time.perf_counter() - started
    return {
        **out,
        "client": "httpx asyncio (python)",
        "seconds": round(elapsed, 1),
        "concurrency": concurrency,
        "requests": done,
        "errors": errors,
        "requests_per_second": round(done / elapsed, 1),
    }


def wrk_throughput(
    url: str,
    path: str,
    bodies: list[dict[str, Any]],
    headers: dict[str, str],
    seconds: float,
    concurrency: int,
) -> dict[str, Any]:
    """Requests/s measured by wrk (one client thread, `concurrency` connections), cycling through bodies.

    WRK_RUNS runs, each opening its connections anew: uvicorn's workers share one listening socket, and
    the worker that wakes first may accept every connection of a burst, which then stays on it (keep-alive)
    and halves the throughput of that run. The median run is the figure; every run is kept, and the runs
    below 60% of the best are counted as "one worker took every connection".
    """
    literals = ",\n".join(f"[==[{json.dumps(body)}]==]" for body in bodies)
    header_table = ", ".join(
        f"[ [==[{k}]==] ] = [==[{v}]==]" for k, v in {**headers, "Content-Type": "application/json"}.items()
    )
    script = f"""
local bodies = {{
{literals}
}}
local headers = {{ {header_table} }}
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", [==[{path}]==], headers, bodies[i])
end
"""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    run_seconds = max(int(seconds / WRK_RUNS), 2)
    command = ["wrk", "-t1", f"-c{concurrency}", f"-d{run_seconds}s", "--latency", "-s", handle.name, url]
    rates, non_2xx = [], 0
    for _ in range(WRK_RUNS):
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
        errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
        rates.append(float(rate.group(1)) if rate else 0.0)
        non_2xx += int(errors.group(1)) if errors else 0
    Path(handle.name).unlink()
    return {
        "wrk_requests_per_second": round(float(np.median(rates)), 1),
        "wrk_runs": [round(r, 1) for r in rates],
        "wrk_run_seconds": run_seconds,
        "wrk_runs_one_worker_took_every_connection": sum(r < 0.6 * max(rates) for r in rates),
        "wrk_non_2xx": non_2xx,
    }


def bench_home(
    home: Path, n: int, with_throughput: bool, seconds: float, previous: Path | None = None
) -> dict[str, Any]:
    opportunities = open_opportunities(home, 200)
    store = ApiStore.open(Settings(home=home).store_url)
    _, key = create_key(store, "bench", ["read"])
    partners = int(store.store.counts()[s.PARTNERS])
    result: dict[str, Any] = {"home": str(home), "partners": partners}
    starts: dict[str, Callable[[int], Server]] = {
        "api": lambda workers: api_server(home, workers),
        "mlflow_baseline": lambda workers: mlflow_server(home, workers),
    }
    if previous is not None:
        starts["previous_code"] = lambda workers: api_server(home, workers, previous)
    api_bodies = [api_body(o) for o in opportunities]
    with ExitStack() as stack:
        servers = {name: stack.enter_context(start(1)) for name, start in starts.items()}
        targets = [
            Target(name, server.url, "/invocations", [mlflow_body(o) for o in opportunities], {})
            if name == "mlflow_baseline"
            else Target(name, server.url, "/v1/recommendations", api_bodies, {"X-API-Key": key})
            for name, server in servers.items()
        ]
        result.update(interleaved_latency(targets, n))
        for name, server in servers.items():
            result[name]["start_seconds"] = round(server.start_seconds, 1)
    if with_throughput:
        for target in targets:
            with starts[target.name](2) as server:
                run = throughput(
                    server.url, target.path, target.bodies, target.headers, seconds, concurrency=8
                )
            result[target.name]["two_workers"] = run
    for name in starts:
        print(name, json.dumps(result[name]), flush=True)
    return result


SHADOW_BLOCK = 25  # requests in a row to one server before switching to the other
SHADOW_SETTLE_SECONDS = 1.0  # lets the last shadow ranking of a block finish before the other server's block


def blocked_latency(targets: list[Target], n: int) -> dict[str, dict[str, Any]]:
    """Client-observed ms per target, in blocks of SHADOW_BLOCK requests to one server at a time, the
    blocks alternating between servers so that drift in the machine's load hits both alike.

    Not request by request as `interleaved_latency`: the shadow server ranks each request again after
    answering it, and that work would then overlap the *other* server's next request, charging the
    shadow's cost to the server without it (measured so, the no-shadow server came out slower). In a
    block, a request overlaps the shadow ranking of the one before it on the same server, as in service.
    """
    clients = [httpx.Client(base_url=t.url, headers=t.headers, timeout=60) for t in targets]
    times: list[list[float]] = [[] for _ in targets]
    try:
        for target, client in zip(targets, clients, strict=True):  # warm-up, not counted
            for i in range(20):
                client.post(target.path, json=target.bodies[i % len(target.bodies)]).raise_for_status()
        for start in range(0, n, SHADOW_BLOCK):
            for target, client, out in zip(targets, clients, times, strict=True):
                time.sleep(SHADOW_SETTLE_SECONDS)
                for i in range(start, min(n, start + SHADOW_BLOCK)):
                    began = time.perf_counter()
                    response = client.post(target.path, json=target.bodies[i % len(target.bodies)])
                    out.append((time.perf_counter() - began) * 1000)
                    response.raise_for_status()
    finally:
        for client in clients:
            client.close()
    return {target.name: _latency(out, n) for target, out in zip(targets, times, strict=True)}


def shadow_rows(home: Path) -> dict[str, Any]:
    """What the shadow servers stored: rows, top-1 agreement and the challenger's own ms (p50/p99)."""
    from sqlalchemy import select

    from features import tables as t

    shadow = t.shadow_rankings
    with ApiStore.open(Settings(home=home).store_url).engine.connect() as conn:
        rows = conn.execute(select(shadow.c.top1_agrees, shadow.c.challenger_ms)).all()
    ms = np.asarray([r[1] for r in rows], dtype=float)
    return {
        "rows": len(rows),
        "top1_agreement": round(float(np.mean([r[0] for r in rows])), 3) if rows else None,
        "challenger_p50_ms": round(float(np.percentile(ms, 50)), 2) if rows else None,
        "challenger_p99_ms": round(float(np.percentile(ms, 99)), 2) if rows else None,
    }


def shadow_metrics(url: str) -> dict[str, float]:
    """The shadow server's own counts from /metrics: requests shadowed, skipped (busy), challenger ms."""
    from prometheus_client.parser import text_string_to_metric_families

    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(url + "/metrics", timeout=10).text):
        for sample in family.samples:
            if sample.name.startswith("pm_shadow_") and sample.labels.get("reason", "busy") == "busy":
                totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    count = totals.get("pm_shadow_challenger_seconds_count", 0.0)
    return {
        "shadowed": totals.get("pm_shadow_requests_total", 0.0),
        "skipped_busy": totals.get("pm_shadow_skipped_total", 0.0),
        "challenger_mean_ms": round(1000 * totals.get("pm_shadow_challenger_seconds_sum", 0.0) / count, 2)
        if count
        else 0.0,
    }


def bench_shadow(home: Path, n: int, challenger: str | None, rates: list[float]) -> dict[str, Any]:
    """p50/p99 of one server without shadow scoring and one per sample rate with it, same home."""
    from training import tracking

    client = tracking.configure(Settings(home=home))
    champion = tracking.champion_version(client)
    before = tracking.challenger_version(client)
    version = challenger or champion
    if version is None:
        raise SystemExit(f"{home}: no champion registered")
    opportunities = open_opportunities(home, 200)
    store = ApiStore.open(Settings(home=home).store_url)
    _, key = create_key(store, "bench-shadow", ["read"])
    partners = int(store.store.counts()[s.PARTNERS])
    rows_before = shadow_rows(home)["rows"]
    tracking.set_challenger(client, version)

    def start(rate: float | None) -> Server:
        if rate is None:
            return api_server(home, 1, extra_env={"PM_SHADOW_ENABLED": "false"})
        shadowed = {"PM_SHADOW_ENABLED": "true", "PM_SHADOW_SAMPLE_RATE": str(rate)}
        return api_server(home, 1, extra_env=shadowed)

    names: dict[str, float | None] = {"api_no_shadow": None, **{f"api_shadow_{r:g}": r for r in rates}}
    try:
        bodies = [api_body(o) for o in opportunities]
        with ExitStack() as stack:
            servers = {name: stack.enter_context(start(rate)) for name, rate in names.items()}
            for name, rate in names.items():
                info = httpx.get(servers[name].url + "/v1/model", headers={"X-API-Key": key}).json()
                if info.get("challenger_version") != (None if rate is None else version):
                    raise RuntimeError(f"{name} did not load the expected challenger: {info}")
            targets = [
                Target(name, server.url, "/v1/recommendations", bodies, {"X-API-Key": key})
                for name, server in servers.items()
            ]
            load_before = round(os.getloadavg()[0], 2)
            result: dict[str, Any] = blocked_latency(targets, n)
            for name, server in servers.items():
                result[name]["start_seconds"] = round(server.start_seconds, 1)
                if names[name] is not None:
                    result[name].update(shadow_metrics(server.url))
                    base = result["api_no_shadow"]
                    result[name]["cost_p50_ms"] = round(result[name]["p50_ms"] - base["p50_ms"], 2)
                    result[name]["cost_p99_ms"] = round(result[name]["p99_ms"] - base["p99_ms"], 2)
    finally:
        if before is None:
            tracking.clear_challenger(client)
        else:
            tracking.set_challenger(client, before)
    stored = shadow_rows(home)
    stored["rows"] -= rows_before
    summary = {
        "home": str(home),
        "partners": partners,
        "champion_version": champion,
        "challenger_version": version,
        "load_average_1m_before": load_before,
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        **result,
        "shadow_rankings_stored": stored,
    }
    print(json.dumps(summary), flush=True)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", action="append", type=Path, default=[], help="prepared home (repeatable)")
    parser.add_argument("--prepare", type=int, action="append", default=[], help="partner count to prepare")
    parser.add_argument("--work", type=Path, default=Path("/tmp/pm-api-bench"), help="where --prepare builds")
    parser.add_argument("--requests", type=int, default=400, help="timed sequential requests per server")
    parser.add_argument(
        "--seconds", type=float, default=35.0, help="throughput time per server (wrk: split over its runs)"
    )
    parser.add_argument(
        "--previous-code",
        type=Path,
        default=None,
        help="also serve each home from this checkout (e.g. a git worktree of the last commit), interleaved",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--shadow",
        action="store_true",
        help="measure latency with and without shadow scoring of a challenger instead (see above)",
    )
    parser.add_argument(
        "--challenger-version", default=None, help="with --shadow: the version to shadow (default: champion)"
    )
    parser.add_argument(
        "--shadow-sample-rate",
        type=float,
        action="append",
        default=[],
        help="with --shadow: PM_SHADOW_SAMPLE_RATE of a shadow server (repeatable; default 1.0)",
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    homes = list(args.home) + [prepare(args.work, n) for n in args.prepare]
    if args.shadow:
        shadow_summary = {
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "load_average_1m": round(os.getloadavg()[0], 2),
            },
            "embedder": "hashing (fast stand-in for all-MiniLM-L6-v2)",
            "request": "POST /v1/recommendations, k=5, 3 roles, open opportunities of the home, "
            f"one connection per server, blocks of {SHADOW_BLOCK} requests alternating between the servers",
            "homes": [
                bench_shadow(home, args.requests, args.challenger_version, args.shadow_sample_rate or [1.0])
                for home in homes
            ],
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(shadow_summary, indent=2))
        print(json.dumps(shadow_summary, indent=2))
        return
    results = [
        bench_home(home, args.requests, i == 0, args.seconds, args.previous_code)
        for i, home in enumerate(homes)
    ]
    summary = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            # Shared machine: the 1-minute load average at the end says how busy it was during the run.
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
        "embedder": "hashing (fast stand-in for all-MiniLM-L6-v2; the ranking path is otherwise identical)",
        "request": "POST /v1/recommendations, k=5, 3 roles, open opportunities of the home, one connection",
        "homes": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
