"""Dependency outages on a real server: status and time of /v1 calls and /health/ready, and start-up errors.

One `uvicorn serving.main:app` worker on a prepared hashing home, its store in a fresh PostgreSQL
database and its rate limits in Redis, each reached through a switchable TCP proxy
(tests/serving/faults.py), so the shared servers are never stopped: *refused* closes the proxy's port,
*unreachable* accepts TCP and never answers (a blackholed host). For each outage every endpoint is called
`--calls` times; key verification is not cached (PM_KEY_CACHE_SECONDS=0), so every call needs the store.
Rate limiting without Redis is measured both ways: the default per-process fallback (calls succeed) and
PM_REDIS_OUTAGE=reject (503). `partnermatch serve` is also started against a refused and an unreachable
store. Target (issue 11): every outage of a required dependency answered 503 with Retry-After within 3 s.

`--code DIR` runs the server from another checkout (e.g. the commit before the fix) with `--timeout` as the
client's limit, to measure the defect.

Usage: .venv/bin/python -m bench.outages --home /tmp/pm-outages/home [--calls 3] [--code DIR] [--out FILE]
Prints a JSON summary and saves it to bench/results/outages.json.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.api import ROOT, Server, api_body, open_opportunities, server_env
from bench.report import machine, publish, results_dir
from serving.auth import create_key
from serving.limits import REDIS_RETRY_SECONDS
from serving.persistence import ApiStore
from tests.servers import free_port
from tests.serving.faults import FaultProxy, Mode

RESULTS = results_dir() / "outages.json"
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = ("127.0.0.1", 6379)
TARGET_SECONDS = 3.0
FEEDBACK = {"partner_id": "P000001", "action": "rejected", "reason_code": "channel_conflict"}
OUTAGES: list[tuple[str, str, Mode]] = [
    ("none", "postgres", "up"),
    ("redis refused", "redis", "refused"),
    ("redis unreachable", "redis", "unreachable"),
    ("postgres refused", "postgres", "refused"),
    ("postgres unreachable", "postgres", "unreachable"),
]


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"pm_outage_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield name
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def call(client: httpx.Client, method: str, path: str, body: Any, headers: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        response = client.request(method, path, json=body, headers=headers)
        status: int | str = response.status_code
        retry_after = response.headers.get("Retry-After")
    except httpx.TimeoutException:
        status, retry_after = "timeout", None
    except httpx.TransportError as exc:
        status, retry_after = type(exc).__name__, None
    return {"status": status, "seconds": time.perf_counter() - started, "retry_after": retry_after}


def measure(
    url: str, keys: dict[str, str], body: dict[str, Any], calls: int, timeout: float
) -> dict[str, Any]:
    endpoints: list[tuple[str, str, str, Any, str]] = [
        ("POST /v1/recommendations", "POST", "/v1/recommendations", body, "read"),
        (
            "POST /v1/recommendations:batch",
            "POST",
            "/v1/recommendations:batch",
            {"requests": [body] * 2},
            "read",
        ),
        ("GET /v1/model", "GET", "/v1/model", None, "read"),
        ("POST /v1/feedback", "POST", "/v1/feedback", FEEDBACK, "write"),
        ("GET /health/ready", "GET", "/health/ready", None, ""),
    ]
    out: dict[str, Any] = {}
    # A fresh connection per call, as separate clients would: a dropped keep-alive is not what is measured.
    for name, method, path, payload, scope in endpoints:
        headers = {"X-API-Key": keys[scope]} if scope else {}
        answers = []
        for _ in range(calls):
            with httpx.Client(base_url=url, timeout=timeout) as client:
                answers.append(call(client, method, path, payload, headers))
        seconds = [a["seconds"] for a in answers]
        out[name] = {
            "statuses": dict(Counter(str(a["status"]) for a in answers)),
            "median_seconds": round(statistics.median(seconds), 3),
            "max_seconds": round(max(seconds), 3),
            "retry_after": sorted({a["retry_after"] for a in answers if a["retry_after"]}),
        }
    return out


def serve_matrix(
    home: Path, code: Path | None, calls: int, timeout: float, redis_outage: str, outages: list[Any]
) -> dict[str, Any]:
    body = api_body(open_opportunities(home, 1)[0])
    with postgres_database() as name:
        pg = FaultProxy("127.0.0.1", 5432)
        redis = FaultProxy(*REDIS)
        try:
            url = f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/{name}"
            store = ApiStore.open(url)
            keys = {
                "read": create_key(store, "bench-outages-read", ["read"])[1],
                "write": create_key(store, "bench-outages-write", ["write"])[1],
            }
            store.engine.dispose()
            env = {
                **server_env(home),
                "PM_DATABASE_URL": url,
                "PM_REDIS_URL": f"redis://127.0.0.1:{redis.port}/15",
                "PM_KEY_CACHE_SECONDS": "0",
                "PM_EVENT_POLL_SECONDS": "0",
                "PM_REDIS_OUTAGE": redis_outage,
            }
            port = free_port()
            command = [sys.executable, "-m", "uvicorn", "serving.main:app", "--port", str(port)]
            command += ["--log-level", "warning", "--no-access-log"]
            if code is not None:
                command += ["--app-dir", str(code)]
                env["PYTHONPATH"] = str(code)
            results: dict[str, Any] = {}
            with Server(command, env, "/health/ready", port) as server:
                for label, dependency, mode in outages:
                    proxy = pg if dependency == "postgres" else redis
                    proxy.set(mode)
                    results[label] = measure(server.url, keys, body, calls, timeout)
                    proxy.set("up")
                    with httpx.Client(base_url=server.url, timeout=timeout) as client:
                        recovered = call(client, "GET", "/health/ready", None, {})
                    results[label]["ready_after_recovery"] = recovered["status"]
                    if dependency == "redis":
                        # The limiter leaves Redis alone for a pause after a failure: let it end, so the
                        # next outage starts from a limiter that is using Redis.
                        time.sleep(REDIS_RETRY_SECONDS + 0.5)
            return results
        finally:
            pg.close()
            redis.close()


def startup(home: Path, code: Path | None, mode: Mode) -> dict[str, Any]:
    """`partnermatch serve` against a store that refuses or never answers."""
    proxy = FaultProxy("127.0.0.1", 5432)
    proxy.set(mode)
    env = {
        **server_env(home),
        "PM_DATABASE_URL": f"postgresql+psycopg://postgres:secret@127.0.0.1:{proxy.port}/test",
    }
    if code is not None:
        env["PYTHONPATH"] = str(code)
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "partnermatch.cli", "serve", "--port", str(free_port())],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            cwd=code or ROOT,
        )
    finally:
        proxy.close()
    output = (done.stdout + done.stderr).strip().splitlines()
    return {
        "exit_code": done.returncode,
        "seconds": round(time.perf_counter() - started, 2),
        "output_lines": len(output),
        "last_line": output[-1][:300] if output else "",
    }


def verdict(local: dict[str, Any], reject: dict[str, Any]) -> dict[str, Any]:
    """Required-dependency outages must be 503 + Retry-After within 3 s; Redis with fallback must be 2xx."""
    cases = (
        (local, ("postgres refused", "postgres unreachable")),
        (reject, ("redis refused", "redis unreachable")),
    )
    required = [
        (label, name, r)
        for results, labels in cases
        for label in labels
        for name, r in results[label].items()
        if isinstance(r, dict)
    ]
    slow_or_wrong = [
        f"{label} / {name}: {r['statuses']} max {r['max_seconds']} s"
        for label, name, r in required
        if set(r["statuses"]) != {"503"} or r["max_seconds"] > TARGET_SECONDS or not r["retry_after"]
    ]
    fallback_wrong = [
        f"{label} / {name}: {r['statuses']}"
        for label in ("redis refused", "redis unreachable")
        for name, r in local[label].items()
        if isinstance(r, dict) and not all(status.startswith("2") for status in r["statuses"])
    ]
    return {
        "outage_answers": len(required),
        "max_seconds": max(r["max_seconds"] for _, _, r in required),
        "not_503_within_3s": slow_or_wrong,
        "redis_fallback_not_200": fallback_wrong,
        "target_met": not slow_or_wrong and not fallback_wrong,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=30.0, help="client timeout per call (seconds)")
    parser.add_argument("--code", type=Path, default=None, help="run the server from this checkout")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    local = serve_matrix(args.home, args.code, args.calls, args.timeout, "local", OUTAGES)
    reject = serve_matrix(args.home, args.code, args.calls, args.timeout, "reject", OUTAGES[:3])
    report = {
        "benchmark": "outages",
        "machine": machine(),
        "code": str(args.code) if args.code else "this checkout",
        "calls_per_endpoint": args.calls,
        "client_timeout_seconds": args.timeout,
        "redis_outage_local": local,
        "redis_outage_reject": reject,
        "startup": {
            "postgres refused": startup(args.home, args.code, "refused"),
            "postgres unreachable": startup(args.home, args.code, "unreachable"),
        },
        "verdict": verdict(local, reject),
    }
    publish(report, args.out)


if __name__ == "__main__":
    main()
