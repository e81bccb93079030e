"""The rooms of ``adapters/`` and the rule between them hold, and the check can fail.

``make test`` runs import-linter with the contracts in ``pyproject.toml``
(docs/architecture.md draws them). These tests prove the contracts would catch a bad
import (a deliberate one in a temporary copy of the code), and check what
import-linter cannot: the domain's imports of eventsourcing's store modules, that
``adapters/`` holds only its rooms, and that a module over 400 lines says why.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")
ROOMS = {"cli", "client", "faces", "integrations", "ledger", "services", "store", "views"}
FACES = {"runtime", "http", "dashboard", "mcp", "a2a", "server.py"}
LONG = 400
REASON = "Why this module is long"


def _copy_of_the_code(where: Path) -> Path:
    """The three folders laid out as the installed import root, plus the contracts."""
    package = where / "handoff_ledger"
    package.mkdir()
    (package / "__init__.py").write_text("")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("domain", "projections", "adapters"):
        shutil.copytree(ROOT / folder, package / folder, ignore=ignore)
    shutil.move(package / "adapters" / "client", package / "client")
    shutil.move(package / "adapters" / "integrations", package / "integrations")
    shutil.copy(ROOT / "pyproject.toml", where / "pyproject.toml")
    return package


def _lint(where: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, str(where / "pyproject.toml"), "--no-cache"],
        cwd=where,
        env={"PYTHONPATH": str(where), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


BAD_IMPORTS = [
    pytest.param(
        "adapters/faces/http/routes.py",
        "import handoff_ledger.adapters.faces.dashboard.models",
        "The faces never import one another",
        id="a-face-imports-a-sibling-face",
    ),
    pytest.param(
        "adapters/services/queries.py",
        "import handoff_ledger.adapters.faces.runtime.service",
        "Rooms: cli > faces > services",
        id="services-import-a-face",
    ),
    pytest.param(
        "adapters/ledger/tokens.py",
        "import handoff_ledger.adapters.store.bootstrap",
        "Rooms: cli > faces > services",
        id="the-ledger-imports-the-store",
    ),
    pytest.param(
        "domain/rules.py",
        "import fastapi",
        "The domain does no I/O and knows no persistence or web library",
        id="the-domain-imports-a-web-library",
    ),
    pytest.param(
        "integrations/langgraph.py",
        "import handoff_ledger.adapters.services.queries",
        "The integrations run in agents' processes",
        id="an-integration-imports-the-server",
    ),
    pytest.param(
        "adapters/views/reader.py",
        "import handoff_ledger.adapters.views.service",
        "No cycle among a room's sub-packages",
        id="a-cycle-inside-a-room",
    ),
]


def test_the_contracts_hold_on_a_copy_of_the_code(tmp_path: Path) -> None:
    _copy_of_the_code(tmp_path)
    done = _lint(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(("module", "line", "contract"), BAD_IMPORTS)
def test_a_deliberate_bad_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    package = _copy_of_the_code(tmp_path)
    path = package / module
    text = path.read_text()
    marker = "from __future__ import annotations\n"
    assert marker in text
    path.write_text(text.replace(marker, f"{marker}\n{line}  # noqa\n", 1))
    done = _lint(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    broken = done.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, done.stdout


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_domain_imports_no_store_module_of_eventsourcing() -> None:
    """import-linter can name only eventsourcing itself, not its sub-modules."""
    offending = {
        f"{path.relative_to(ROOT)}: {name}"
        for folder in ("domain", "projections")
        for path in (ROOT / folder).rglob("*.py")
        for name in _imports(path)
        if name.startswith(("eventsourcing.postgres", "eventsourcing.sqlite"))
    }
    assert offending == set()


def test_adapters_hold_only_their_rooms() -> None:
    top = {p.name for p in (ROOT / "adapters").iterdir() if p.name != "__pycache__"}
    assert top - {"__init__.py", "py.typed"} == ROOMS
    faces = {p.name for p in (ROOT / "adapters" / "faces").iterdir() if p.name != "__pycache__"}
    assert faces - {"__init__.py"} == FACES


def test_a_module_over_400_lines_says_why_at_its_top() -> None:
    unexplained = []
    for folder in ("domain", "projections", "adapters"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            if text.count("\n") > LONG:
                docstring = ast.get_docstring(ast.parse(text)) or ""
                if REASON not in docstring:
                    unexplained.append(str(path.relative_to(ROOT)))
    assert unexplained == []
