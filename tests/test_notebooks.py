"""Notebooks keep running against the current code: their code cells execute in order without error."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import get_settings

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


@pytest.fixture
def notebook_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A notebook sets PM_* itself and makes its own home with `tempfile`: both are undone afterwards.

    The home lands under this test's tmp_path, and every variable the notebook sets or removes is put back,
    so the tests that run after it see the environment they expect.
    """
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    get_settings.cache_clear()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_code_cells_run_in_order(notebook: Path, notebook_sandbox: None) -> None:
    cells = json.loads(notebook.read_text())["cells"]
    namespace: dict[str, object] = {}
    for cell in cells:
        if cell["cell_type"] == "code":
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            exec(compile(source, f"{notebook.name}", "exec"), namespace)  # noqa: S102
