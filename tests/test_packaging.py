"""The conda environment and pyproject declare the same dependencies."""
import re
import subprocess
import sys

import tomllib
from conftest import REPO

CONDA_NAMES = {"torch": "pytorch"}  # pip name -> conda name where they differ


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    env = (REPO / "environment.yml").read_text().split("dependencies:", 1)[1]
    items = re.findall(r"^\s*-\s+(\S[^\n]*)$", env, re.M)
    listed = {_name(m) for m in items if not m.startswith("-e") and not m.endswith(":")}
    for dep in deps:
        name = _name(dep)
        assert CONDA_NAMES.get(name, name) in listed, f"{name} is in pyproject.toml but not environment.yml"
    extra = listed - {CONDA_NAMES.get(_name(d), _name(d)) for d in deps} - {"python", "pip"}
    assert not extra, f"environment.yml lists packages pyproject.toml lacks: {sorted(extra)}"


def test_console_script_and_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "slomo", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "convert" in out.stdout
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"slomo": "slomo.cli:entry"}
