"""Behaviour lock for refactors: record the API's answers to fixed requests on a home; compare two records.

Record (run with the code under test; the server is a real `uvicorn serving.main:app` on the home):
    .venv/bin/python bench/equivalence.py record --home H --export E --out before.json [--requests 300]
Compare:
    .venv/bin/python bench/equivalence.py compare before.json after.json

The requests are the export's first open opportunities (with their registered partner), k=5, explain on;
every fourth one adds a rule (minimum tier, region must match) or MMR diversity, and every tenth one asks
the what-if routes. The comparison reports teams that differ and the largest score and probability gaps.
Self-contained on purpose (pandas + httpx only): it must run unchanged against old and new code.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

FLOAT_TOLERANCE = 1e-6


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _opportunities(export: Path, n: int) -> list[dict[str, Any]]:
    path = next(p for p in (export / "opportunities.parquet", export / "opportunities.csv") if p.exists())
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    rows = frame[frame["outcome"] == "open"].sort_values("opportunity_id").head(n)
    out = []
    for row in rows.to_dict("records"):
        skills = row.get("required_skills")
        if isinstance(skills, str):
            skills = [x for x in skills.split(";") if x]
        registered = row.get("registered_partner_id")
        out.append(
            {
                "opportunity_id": str(row["opportunity_id"]),
                "customer_industry": row.get("customer_industry") or None,
                "region": row.get("region") or None,
                "deal_size": None if pd.isna(row.get("deal_size")) else float(row["deal_size"]),
                "required_skills": [str(x) for x in (skills if skills is not None else [])],
                "description": str(row.get("description") or ""),
                "created_at": str(pd.Timestamp(row["created_at"]).date()),
                "registered_partner_id": None if pd.isna(registered) else str(registered),
            }
        )
    return out


def _bodies(opps: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []
    for i, opp in enumerate(opps):
        body: dict[str, Any] = {"opportunity": opp, "k": 5, "explain": True}
        if i % 4 == 1:
            body["constraints"] = {"min_tier": "silver"}
        elif i % 4 == 2:
            body["constraints"] = {"region_must_match": True}
        elif i % 4 == 3:
            body["diversity"] = 0.7
        calls.append(("/v1/recommendations", body))
    return calls


def _strip(answer: Any) -> Any:
    """Drop what legitimately differs per call (request ids)."""
    if isinstance(answer, dict):
        return {k: _strip(v) for k, v in answer.items() if k != "request_id"}
    if isinstance(answer, list):
        return [_strip(v) for v in answer]
    return answer


def record(home: Path, export: Path, out: Path, n: int) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PM_") and k != "MLFLOW_TRACKING_URI"}
    env.update(
        PM_HOME=str(home),
        PM_EMBEDDER="hashing",
        PM_AUTH_DISABLED="true",
        PM_RATE_LIMIT_PER_MINUTE="10000000",
        OMP_NUM_THREADS="1",
    )
    log = tempfile.NamedTemporaryFile(prefix="pm-equivalence-", suffix=".log", delete=False)
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "serving.main:app",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        started = time.perf_counter()
        while True:
            try:
                if httpx.get(url + "/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.perf_counter() - started > 300:
                raise RuntimeError(Path(log.name).read_text()[-3000:])
            time.sleep(0.2)
        opps = _opportunities(export, n)
        answers = []
        with httpx.Client(base_url=url, timeout=60) as client:
            for path, body in _bodies(opps):
                response = client.post(path, json=body)
                answers.append(
                    {
                        "path": path,
                        "body": body,
                        "status": response.status_code,
                        "answer": _strip(response.json()),
                    }
                )
            for i, opp in enumerate(opps[::10]):
                first = answers[i * 10]["answer"].get("teams") or []
                if not first:
                    continue
                team = {m["role"]: m["partner_id"] for m in first[0]["members"]}
                for path, body in (
                    (
                        "/v1/what-if/replace-member",
                        {"opportunity": opp, "team": team, "replace_role": sorted(team)[0], "k": 3},
                    ),
                    (
                        "/v1/what-if/include-partner",
                        {"opportunity": opp, "partner_id": first[0]["members"][-1]["partner_id"], "k": 3},
                    ),
                ):
                    response = client.post(path, json=body)
                    answers.append(
                        {
                            "path": path,
                            "body": body,
                            "status": response.status_code,
                            "answer": _strip(response.json()),
                        }
                    )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out.write_text(json.dumps(answers, indent=1, sort_keys=True))
    print(f"recorded {len(answers)} answers to {out}")


def _numbers(a: Any, b: Any, path: str, gaps: dict[str, float], diffs: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            diffs.append(f"{path}: keys {sorted(set(a) ^ set(b))}")
        for key in set(a) & set(b):
            _numbers(a[key], b[key], f"{path}.{key}", gaps, diffs)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            diffs.append(f"{path}: length {len(a)} vs {len(b)}")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _numbers(x, y, f"{path}[{i}]", gaps, diffs)
    elif isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        gap = abs(float(a) - float(b))
        field = path.rsplit(".", 1)[-1].split("[")[0]
        gaps[field] = max(gaps.get(field, 0.0), gap)
        if gap > FLOAT_TOLERANCE:
            diffs.append(f"{path}: {a} vs {b}")
    elif a != b:
        diffs.append(f"{path}: {a!r} vs {b!r}")


def compare(before: Path, after: Path) -> int:
    old, new = json.loads(before.read_text()), json.loads(after.read_text())
    gaps: dict[str, float] = {}
    diffs: list[str] = []
    _numbers(old, new, "$", gaps, diffs)
    teams_changed = sum(
        1
        for a, b in zip(old, new, strict=False)
        if [[m["partner_id"] for m in t["members"]] for t in a["answer"].get("teams", [])]
        != [[m["partner_id"] for m in t["members"]] for t in b["answer"].get("teams", [])]
    )
    report = {
        "answers": [len(old), len(new)],
        "answers_with_other_teams": teams_changed,
        "differences": len(diffs),
        "largest_gap_by_field": dict(sorted(gaps.items())),
        "first_differences": diffs[:20],
    }
    print(json.dumps(report, indent=2))
    return 0 if not diffs else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("--home", type=Path, required=True)
    rec.add_argument("--export", type=Path, required=True)
    rec.add_argument("--out", type=Path, required=True)
    rec.add_argument("--requests", type=int, default=300)
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("before", type=Path)
    cmp_.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "record":
        record(args.home, args.export, args.out, args.requests)
    else:
        raise SystemExit(compare(args.before, args.after))


if __name__ == "__main__":
    main()
