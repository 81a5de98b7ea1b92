"""The quick starts and the testing page work when copied in order into an empty folder, with
nothing but the wheel installed (issue 14, point 3 and "Done when").

The package is built as a wheel from a copy of the source tree and installed into a fresh
virtualenv (``pip install <wheel>``, its dependencies from the package index this machine
reaches, plus pytest and freezegun, which the testing page uses). Each page is then read by
:class:`~tests.docs_snippets.Reader`: files written, Python run, commands typed, the sandbox
started and its settings pasted, the page's tests run with ``python -m pytest``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .docs_snippets import Block
from .docs_snippets import Reader
from .docs_snippets import blocks_of_markdown
from .docs_snippets import blocks_of_rst
from .docs_snippets import clean_environment
from .services import require

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
README = blocks_of_markdown(ROOT / "README.md", "Quick start")
QUICKSTART = blocks_of_rst(ROOT / "docs" / "quickstart.rst")
TESTING = blocks_of_rst(ROOT / "docs" / "testing.rst")
#: What the testing page needs besides the wheel.
TEST_TOOLS = ["pytest", "freezegun"]
_NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "instance",
    "test-artifacts",
    "_build",
    ".*_cache",
    ".hypothesis",
)


def _step(argv: list[str], what: str, **kwargs: object) -> None:
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=900, env=clean_environment(), **kwargs
    )
    require(
        f"{what} ({result.stderr.strip()[-2000:]})",
        result.returncode == 0,
        "network access to the package index, or its packages in pip's find-links",
    )


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the package installed from its wheel (not editable)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    _step(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", str(work / "dist")],
        "building the wheel",
        cwd=source,
    )
    [wheel] = (work / "dist").glob("flask_kashflow_links-*.whl")
    env = work / "venv"
    _step([sys.executable, "-m", "venv", str(env)], "making a virtualenv")
    _step(
        [
            str(env / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--find-links",
            str(work / "dist"),
            str(wheel),
            *TEST_TOOLS,
        ],
        "installing the wheel",
    )
    return env


@pytest.fixture
def reader(tmp_path: Path, venv: Path) -> Iterator[Reader]:
    folder = tmp_path / "site"
    folder.mkdir()
    reader = Reader(folder, venv)
    yield reader
    reader.stop()


def test_the_wheel_is_what_runs(reader: Reader) -> None:
    result = reader.run(
        ["python", "-c", "import flask_kashflow_links as p; print(p.__file__)"], "where"
    )
    assert "site-packages" in result.stdout and str(ROOT) not in result.stdout


def test_the_pages_have_code_to_run() -> None:
    for blocks in (README, QUICKSTART, TESTING):
        assert any(b.language == "python" for b in blocks)
        assert any(b.language == "console" for b in blocks)


def test_the_readme_quick_start(reader: Reader) -> None:
    reader.read(README)
    assert (reader.folder / "myshop.py").exists()
    played = "\n".join(reader.played)
    assert "started the sandbox" in played
    assert "$ flask --app myshop kashflow-links mint invoice 1043 --verify" in played


def test_the_quickstart_page(reader: Reader) -> None:
    reader.read(QUICKSTART)
    assert any("kashflow-links check" in step for step in reader.played)


def test_all_three_in_order(reader: Reader) -> None:
    """The README, then the quick start page, then the testing page, in one folder: the
    testing page's fixtures use the quick start's factory, and its tests pass."""
    blocks: list[Block] = [*README, *QUICKSTART, *TESTING]
    reader.read(blocks)
    assert any(step.endswith("$ python -m pytest") for step in reader.played), reader.played
    # The page's command, once more, now that every test file it shows is written.
    result = reader.run(["python", "-m", "pytest", "-p", "no:cacheprovider"], "every test")
    for name in ("test_pages", "test_data", "test_faults", "test_mail", "test_soap"):
        assert f"tests/{name}.py" in result.stdout, result.stdout
    assert "tests/soap/test_soap_pages.py" in result.stdout, result.stdout
