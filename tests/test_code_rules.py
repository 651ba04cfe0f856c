"""The code's rules, checked on the whole repository: the import contracts of pyproject.toml's [tool.importlinter]
(layers that point one way, where Ray and MLflow may appear) and ruff's lint and format settings ([tool.ruff])."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(tool: str, *arguments: str) -> subprocess.CompletedProcess:
    """A command-line tool of this environment, run in the repository."""
    return subprocess.run(
        [str(Path(sys.executable).with_name(tool)), *arguments], cwd=REPO, capture_output=True, text=True, timeout=300
    )


def test_imports_keep_the_layers_and_the_contracts_of_pyproject():
    done = _run("lint-imports", "--no-cache")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


@pytest.mark.parametrize("arguments", [("check", "."), ("format", "--check", ".")], ids=["lint", "format"])
def test_ruff_finds_nothing_to_change(arguments):
    done = _run("ruff", *arguments)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
