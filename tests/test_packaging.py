"""The three layers install under one import root, and none is left out."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"domain", "projections", "adapters"}
# The one package that lives inside a layer's folder but installs under a name of its
# own: the Python client (an adapter: it touches the network), `handoff_ledger.client`.
EXTRA = {
    "handoff_ledger.client": "adapters/client",
    "handoff_ledger.integrations": "adapters/integrations",
}


def installed_name(path: Path) -> str:
    """The import name of a package folder or module file under ROOT."""
    relative = path.relative_to(ROOT).with_suffix("")
    for name, folder in EXTRA.items():
        if relative.is_relative_to(folder):
            return ".".join([name, *relative.relative_to(folder).parts])
    return "handoff_ledger." + ".".join(relative.parts)


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        installed_name(init.parent)
        for layer in LAYERS
        for init in (ROOT / layer).rglob("__init__.py")
    }
    assert on_disk, "no package found: is the test running from the repository?"
    assert on_disk - listed == set(), "missing from [tool.setuptools] packages"
    assert listed - on_disk == set(), "listed but not a package folder"
    layers = {f"handoff_ledger.{layer}": layer for layer in sorted(LAYERS)}
    assert config["package-dir"] == {**layers, **EXTRA}


def test_every_module_imports_from_the_installed_root() -> None:
    modules = sorted(
        installed_name(path.parent if path.name == "__init__.py" else path)
        for layer in LAYERS
        for path in (ROOT / layer).rglob("*.py")
    )
    assert "handoff_ledger.client" in modules
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)"
    done = subprocess.run(
        [sys.executable, "-c", code, *modules], capture_output=True, text=True, cwd="/", check=False
    )
    assert done.returncode == 0, done.stderr


def test_import_contract_holds() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
