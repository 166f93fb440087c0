"""What the sales-rep page costs over the API: N page submissions against N API calls, one served model.

One uvicorn serves a trained home; a signed-in session posts the opportunity form (POST /teams, which
ranks and renders the cards) and an API key posts the same request to POST /v1/recommendations (with
`explain`, as the page asks for it). Requests alternate in blocks so that both see the same machine
state; each side gets a warm-up first. The page's extra cost is its session check, form parsing and
template rendering (bytes of HTML against bytes of JSON are reported too).

Usage: .venv/bin/python bench/page.py --home /tmp/pmweb/home [--requests 200]
Prints a JSON summary and saves it to bench/results/page.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.report import results_dir
from core.settings import Settings
from serving.auth import create_key
from serving.persistence import ApiStore
from tests.servers import free_port, wait_until_ready

RESULTS = results_dir() / "page.json"
ROOT = Path(__file__).resolve().parents[1]
READY_SECONDS = 120.0
WARMUP = 20
BLOCK = 10
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM = {
    "industry": "financial-services",
    "region": "emea-north",
    "deal_size": "250000",
    "required_skills": "aws cloud migration, zero trust security",
    "description": "Bank wants to exit its datacentre to AWS with a zero-trust network.",
    "k": "3",
}
ROLES = ["services", "influence", "reseller"]
API_BODY = {
    "opportunity": {
        "customer_industry": FORM["industry"],
        "region": FORM["region"],
        "deal_size": 250000.0,
        "required_skills": ["aws cloud migration", "zero trust security"],
        "description": FORM["description"],
    },
    "k": 3,
    "roles": ROLES,
    "explain": True,
}


def _serve(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PM_") and k != "MLFLOW_TRACKING_URI"}
    env.update(
        PM_HOME=str(home),
        PM_EMBEDDER="hashing",
        PM_SHADOW_ENABLED="false",
        PM_RATE_LIMIT_PER_MINUTE="1000000",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "serving.main:app", "--port", str(port), "--log-level", "warning"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
    }


def measure(url: str, key: str, requests: int) -> dict[str, Any]:
    page = httpx.Client(base_url=url, timeout=60, follow_redirects=True)
    api = httpx.Client(base_url=url, timeout=60, headers={"X-API-Key": key})
    token = CSRF.search(page.get("/sign-in").text)
    assert token, "no CSRF token on the sign-in form"
    signed = page.post("/sign-in", data={"csrf_token": token.group(1), "api_key": key})
    token = CSRF.search(signed.text)
    assert signed.status_code == 200 and token, f"sign-in failed: {signed.status_code}"
    form = {**FORM, "csrf_token": token.group(1), "roles": ROLES}

    def page_call() -> tuple[float, int]:
        began = time.perf_counter()
        r = page.post("/teams", data=form)
        took = (time.perf_counter() - began) * 1000
        assert r.status_code == 200 and r.text.count('class="team"') == 3, r.text[:500]
        return took, len(r.content)

    def api_call() -> tuple[float, int]:
        began = time.perf_counter()
        r = api.post("/v1/recommendations", json=API_BODY)
        took = (time.perf_counter() - began) * 1000
        assert r.status_code == 200 and len(r.json()["teams"]) == 3, r.text[:500]
        return took, len(r.content)

    for _ in range(WARMUP):
        page_call()
        api_call()
    page_ms: list[float] = []
    api_ms: list[float] = []
    sizes = {"page": 0, "api": 0}
    while len(page_ms) < requests:
        for _ in range(BLOCK):
            took, size = page_call()
            page_ms.append(took)
            sizes["page"] = size
        for _ in range(BLOCK):
            took, size = api_call()
            api_ms.append(took)
            sizes["api"] = size
    page_s, api_s = _summary(page_ms), _summary(api_ms)
    return {
        "requests_each": len(page_ms),
        "page_post_teams": page_s,
        "api_post_recommendations": api_s,
        "page_minus_api_p50_ms": round(page_s["p50_ms"] - api_s["p50_ms"], 2),
        "page_over_api_p50_ratio": round(page_s["p50_ms"] / api_s["p50_ms"], 3),
        "response_bytes": sizes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="a trained home (hashing embedder)")
    parser.add_argument("--requests", type=int, default=200, help="page submissions and API calls, each")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    store = ApiStore.open(Settings(home=args.home).store_url)
    _, key = create_key(store, "bench-page", ["read"])
    store.engine.dispose()
    port = free_port()
    server = _serve(args.home.resolve(), port)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(url, server, READY_SECONDS)
        result = measure(url, key, args.requests)
    finally:
        server.terminate()
        server.wait(timeout=30)
    result.update(
        home=str(args.home),
        partners=store.store.counts().get("partners"),
        machine={"python": platform.python_version(), "cpus": os.cpu_count()},
        note="one uvicorn worker; page = session check + form parsing + the same ranking + Jinja2 cards",
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
