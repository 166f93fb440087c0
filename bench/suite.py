"""`make bench` / `make bench-quick`: every benchmark from a fresh clone, its homes prepared, one summary.

Prepares the homes the benchmarks need (generate -> ingest -> train, hashing embedder), runs each benchmark
script as its own process with its reports sent to one results folder, then writes SUMMARY.md there (each
figure, its target and its baseline measured in the same run; bench/summary.py reads the reports) and puts
that table into the README's benchmark section.

Profiles: `full` writes to bench/results/ at the sizes the targets name (10k and 100k partners, 1M deal rows;
about two hours here); `quick` writes to bench/results/quick/ at small sizes (under 15 minutes on 2 cores).
The holdout scenarios are never run here: they are looked at once, at the end of ranker work
(`make bench-holdout`, logged in bench/results/scenarios-holdout-runs.log).

Usage: .venv/bin/python -m bench.suite [--profile quick|full] [--only api page ...] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.api import cli, prepare
from bench.report import BENCH, RESULTS_ENV, machine
from bench.summary import Figure, figures_of, markdown

ROOT = BENCH.parent
README = ROOT / "README.md"
README_START = "<!-- bench-summary:start -->"
README_END = "<!-- bench-summary:end -->"
SERVICES = {"postgresql": ("127.0.0.1", 5432), "redis": ("127.0.0.1", 6379)}


@dataclass(frozen=True)
class Profile:
    """The sizes one run works at."""

    name: str
    results: Path
    api_partners: tuple[int, ...]  # homes served by the API benchmarks (the first is the 10k home)
    train_partners: int
    train_opportunities: int
    requests: int
    throughput_seconds: int  # bench/api.py --seconds: throughput time per server
    scenario_args: tuple[str, ...]
    ecosystem_seeds: tuple[str, ...]  # calibration and cycle-time ecosystems
    fuzz_examples: int
    feature_sections: str
    writes: int


PROFILES = {
    "quick": Profile(
        name="quick",
        results=BENCH / "results" / "quick",
        api_partners=(10_000,),
        train_partners=3_000,
        train_opportunities=30_000,
        requests=150,
        throughput_seconds=15,
        scenario_args=("--only", "t-base", "--seeds", "1"),
        ecosystem_seeds=("5",),
        fuzz_examples=25,
        feature_sections="history",
        writes=10,
    ),
    "full": Profile(
        name="full",
        results=BENCH / "results",
        api_partners=(10_000, 100_000),
        train_partners=10_000,
        train_opportunities=400_000,  # ~1M deal rows: the training target's size
        requests=400,
        throughput_seconds=35,
        scenario_args=(),
        ecosystem_seeds=("5", "11", "23"),
        fuzz_examples=200,
        feature_sections="embed,index,history",
        writes=20,
    ),
}


@dataclass
class Context:
    """What the steps share: the profile, the work folder and the homes prepared so far."""

    profile: Profile
    work: Path
    homes: dict[str, Path] = field(default_factory=dict)

    def api_home(self, partners: int) -> Path:
        key = f"api-{partners}"
        if key not in self.homes:
            self.homes[key] = prepare(self.work / "api", partners)
        return self.homes[key]

    def api_homes(self) -> list[str]:
        return [arg for n in self.profile.api_partners for arg in ("--home", str(self.api_home(n)))]

    def train_home(self) -> tuple[Path, Path]:
        """An ingested, untrained home and its export (with the generator's truth) for bench/train.py."""
        p = self.profile
        home = self.work / f"train-{p.train_partners}-{p.train_opportunities}"
        export = self.work / f"export-{p.train_partners}-{p.train_opportunities}"
        if "train" not in self.homes:
            shutil.rmtree(home, ignore_errors=True)
            if not (export / "truth").exists():
                shutil.rmtree(export, ignore_errors=True)
                cli(
                    home,
                    "generate",
                    "--partners",
                    str(p.train_partners),
                    "--opportunities",
                    str(p.train_opportunities),
                    "--seed",
                    "11",
                    "--format",
                    "parquet",
                    "--out",
                    str(export),
                )
            cli(home, "ingest", str(export))
            self.homes["train"] = home
        return home, export


@dataclass(frozen=True)
class Step:
    """One benchmark: how to run it at a profile, and the services it cannot run without."""

    name: str
    argv: Callable[[Context], list[str]]
    needs: tuple[str, ...] = ()
    env: Callable[[Context], dict[str, str]] = lambda _: {}
    profiles: tuple[str, ...] = ("quick", "full")


def _train_argv(ctx: Context) -> list[str]:
    _, export = ctx.train_home()
    p = ctx.profile
    name = f"hashing-{p.train_partners // 1000}k-{p.train_opportunities // 1000}k"
    return ["-m", "bench.train", "--truth", str(export), "--name", name]


def _train_env(ctx: Context) -> dict[str, str]:
    home, _ = ctx.train_home()
    return {"PM_HOME": str(home), "PM_EMBEDDER": "hashing"}


STEPS = (
    Step("generator", lambda ctx: ["-m", "bench.generator"]),
    Step(
        "features", lambda ctx: ["-m", "bench.feature_pipeline", "--sections", ctx.profile.feature_sections]
    ),
    Step(
        "embedding",
        lambda ctx: [
            "-m",
            "bench.embedding_scale",
            *(["--quick"] if ctx.profile.name == "quick" else ["--run-100k"]),
        ],
    ),
    Step("train", _train_argv, env=_train_env),
    Step("scenarios", lambda ctx: ["-m", "bench.scenarios", "--set", "tuning", *ctx.profile.scenario_args]),
    Step("calibration", lambda ctx: ["-m", "bench.calibration", "--seeds", *ctx.profile.ecosystem_seeds]),
    Step("cycle-time", lambda ctx: ["-m", "bench.cycle_time", "--seeds", *ctx.profile.ecosystem_seeds]),
    Step(
        "api",
        lambda ctx: [
            "-m",
            "bench.api",
            *ctx.api_homes(),
            "--requests",
            str(ctx.profile.requests),
            "--seconds",
            str(ctx.profile.throughput_seconds),
        ],
    ),
    Step("prior-retrieval", lambda ctx: ["-m", "bench.prior_retrieval", *ctx.api_homes()]),
    Step("index-precision", lambda ctx: ["-m", "bench.index_precision", *ctx.api_homes()]),
    Step(
        "page",
        lambda ctx: [
            "-m",
            "bench.page",
            "--home",
            str(ctx.api_home(10_000)),
            "--requests",
            str(ctx.profile.requests),
        ],
    ),
    Step(
        "api-shadow",
        lambda ctx: [
            "-m",
            "bench.api",
            "--home",
            str(ctx.api_home(10_000)),
            "--shadow",
            "--shadow-sample-rate",
            "0.1",
            "--requests",
            str(ctx.profile.requests),
            "--out",
            str(ctx.profile.results / "api-shadow-10000.json"),
        ],
    ),
    Step(
        "partner-writes",
        lambda ctx: ["-m", "bench.partner_writes", *ctx.api_homes(), "--writes", str(ctx.profile.writes)],
    ),
    Step(
        "concurrency",
        lambda ctx: [
            "-m",
            "bench.concurrency",
            "--home",
            str(ctx.api_home(10_000)),
            "--writes",
            str(ctx.profile.writes),
            *(["--writers", "2"] if ctx.profile.name == "quick" else []),
        ],
        needs=("postgresql",),
    ),
    Step(
        "outages",
        lambda ctx: ["-m", "bench.outages", "--home", str(ctx.api_home(10_000))],
        needs=("postgresql", "redis"),
        profiles=("full",),
    ),
    Step(
        "scale-curve",
        lambda ctx: [
            "-m",
            "bench.scale_curve",
            "--work",
            str(ctx.work / "scale-curve"),
            *(["--quick"] if ctx.profile.name == "quick" else ["--sizes", "10000", "100000", "1000000"]),
        ],
    ),
    Step(
        "dask-scale",
        lambda ctx: ["-m", "bench.dask_scale", "--rows", "1000000", "--rows", "5000000"],
        profiles=("full",),
    ),
    Step(
        "fuzz",
        lambda ctx: ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/serving/fuzz_schemathesis.py"],
        env=lambda ctx: {
            "PM_FUZZ_RANDOM": "1",
            "PM_FUZZ_EXAMPLES": str(ctx.profile.fuzz_examples),
            "PM_FUZZ_REPORT": str(ctx.profile.results / "fuzz.json"),
            "PM_API_TEST_HOME": str(ctx.api_home(10_000)),
        },
    ),
)


def reachable(service: str) -> bool:
    try:
        with socket.create_connection(SERVICES[service], timeout=2):
            return True
    except OSError:
        return False


@dataclass
class Outcome:
    step: str
    status: str  # "ok", "failed (exit N)", "skipped: why"
    seconds: float
    log: str | None = None
    reports: list[str] = field(default_factory=list)  # the JSON reports this step wrote


def _stamps(folder: Path) -> dict[str, float]:
    return {path.name: path.stat().st_mtime for path in folder.glob("*.json")}


def run_step(step: Step, ctx: Context, logs: Path) -> Outcome:
    missing = [service for service in step.needs if not reachable(service)]
    if missing:
        return Outcome(step.name, f"skipped: {', '.join(missing)} not reachable", 0.0)
    started = time.perf_counter()
    log = logs / f"{step.name}.log"
    try:
        argv, extra = step.argv(ctx), step.env(ctx)  # may prepare a home (generate, ingest, train)
    except subprocess.CalledProcessError as exc:
        return Outcome(step.name, f"failed preparing its home (exit {exc.returncode})", 0.0)
    env = {**os.environ, RESULTS_ENV: str(ctx.profile.results), **extra}
    before = _stamps(ctx.profile.results)
    with log.open("w") as out:
        code = subprocess.run(
            [sys.executable, *argv], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        ).returncode
    seconds = time.perf_counter() - started
    written = sorted(
        name for name, stamp in _stamps(ctx.profile.results).items() if before.get(name) != stamp
    )
    status = (
        "ok"
        if code == 0
        else f"failed (exit {code}), log {log.relative_to(ROOT) if log.is_relative_to(ROOT) else log}"
    )
    return Outcome(step.name, status, seconds, str(log), written)


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def summary_text(profile: Profile, outcomes: list[Outcome], figures: list[Figure], total: float) -> str:
    header = (
        f"### Benchmarks: `{profile.name}` profile, {datetime.now(UTC):%Y-%m-%d}, commit {commit()}, "
        f"2 cores, {total / 60:.0f} minutes\n\n"
        f"Written by `python -m bench.suite --profile {profile.name}` "
        f"(reports in `{profile.results.relative_to(ROOT)}/`)."
    )
    table = markdown(figures, header)
    not_ok = [o for o in outcomes if o.status != "ok"]
    if not_ok:
        table += "\nNot measured in this run:\n" + "".join(f"- {o.step}: {o.status}\n" for o in not_ok)
    return table


def update_readme(text: str, path: Path = README) -> None:
    """Put `text` between the README's benchmark markers (nothing else changes)."""
    readme = path.read_text()
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        print(f"README.md has no {README_START} ... {README_END} section: left as it is", file=sys.stderr)
        return
    path.write_text(readme[: start + len(README_START)] + "\n" + text + readme[end:])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--only", nargs="*", default=None, help="step names (default: every step)")
    parser.add_argument(
        "--work", type=Path, default=ROOT / ".partnermatch" / "bench", help="homes built here"
    )
    parser.add_argument("--reuse-homes", action="store_true", help="keep homes a previous run prepared")
    parser.add_argument("--no-readme", action="store_true", help="leave README.md's benchmark section")
    args = parser.parse_args()
    profile = PROFILES[args.profile]
    work = args.work / profile.name
    if not args.reuse_homes:
        shutil.rmtree(work, ignore_errors=True)  # homes trained by older code would measure older code
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    profile.results.mkdir(parents=True, exist_ok=True)
    ctx = Context(profile, work)
    steps = [s for s in STEPS if profile.name in s.profiles and (args.only is None or s.name in args.only)]
    started = time.perf_counter()
    outcomes = []
    for i, step in enumerate(steps, 1):
        print(f"[{i}/{len(steps)}] {step.name} ...", flush=True)
        outcome = run_step(step, ctx, logs)
        outcomes.append(outcome)
        print(f"[{i}/{len(steps)}] {step.name}: {outcome.status} ({outcome.seconds:.0f} s)", flush=True)
    total = time.perf_counter() - started
    produced = [profile.results / name for o in outcomes if o.status == "ok" for name in o.reports]
    figures = [figure for path in produced for figure in figures_of(path)]
    text = summary_text(profile, outcomes, figures, total)
    (profile.results / "SUMMARY.md").write_text(text)
    (profile.results / "suite.json").write_text(
        json.dumps(
            {
                "profile": profile.name,
                "commit": commit(),
                "machine": machine(),
                "total_seconds": round(total, 1),
                "steps": [o.__dict__ for o in outcomes],
                "reports": [p.name for p in produced],
            },
            indent=2,
        )
        + "\n"
    )
    if not args.no_readme:
        update_readme(text)
    print(text)
    if any(o.status.startswith("failed") for o in outcomes):
        print("some benchmarks failed: see the logs named above", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
