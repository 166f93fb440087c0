"""The benchmark suite: every step names a benchmark that exists, and the README keeps its other text."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.suite import PROFILES, README_END, README_START, STEPS, Context, Step, update_readme

BENCH = Path(__file__).resolve().parents[2] / "bench"


class _NoHomes(Context):
    """A context whose homes are names only: argv is built without generating anything."""

    def api_home(self, partners: int) -> Path:
        return self.work / f"home-{partners}"

    def train_home(self) -> tuple[Path, Path]:
        return self.work / "train", self.work / "export"


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("step", STEPS, ids=[s.name for s in STEPS])
def test_every_step_runs_a_module_that_exists(step: Step, profile: str, tmp_path: Path) -> None:
    argv = step.argv(_NoHomes(PROFILES[profile], tmp_path))
    module = argv[argv.index("-m") + 1]
    assert module == "pytest" or (BENCH / f"{module.removeprefix('bench.')}.py").exists()


def test_the_readme_section_between_the_markers_is_replaced_and_nothing_else(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n{README_START}\nold table\n{README_END}\n## next\n")
    update_readme("new table\n", readme)
    assert readme.read_text() == f"# title\n{README_START}\nnew table\n{README_END}\n## next\n"


def test_a_readme_without_the_markers_is_left_as_it_is(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# title\n")
    update_readme("new table\n", readme)
    assert readme.read_text() == "# title\n"
