"""Packaging: the conda environment and pyproject agree, and an installed (non-editable) slomo finds
its shipped weights and bundled data wherever it runs."""
import os
import re
import subprocess
import sys

import pytest
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


# ---- a non-editable install carries the weights and the data ----------------------------------------------
def _install(clone, target):
    """`pip install --target` of a clone (no dependencies, nothing downloaded)."""
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-build-isolation",
           "--disable-pip-version-check", "--target", str(target), str(clone)]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=target.parent)
    assert res.returncode == 0, res.stderr[-3000:]
    return target


@pytest.fixture(scope="module")
def installed(repo_clone, tmp_path_factory):
    return _install(repo_clone, tmp_path_factory.mktemp("install") / "site")


def _run_installed(site, args, cwd):
    """Run python with only the installed copy of slomo importable (the checkout is not on the path)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(site), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_installed_package_converts_a_clip_from_another_folder_with_the_shipped_weights(installed, tmp_path):
    from _clips import make_clip
    elsewhere = tmp_path / "somewhere else"
    elsewhere.mkdir()
    make_clip(elsewhere / "clip.mp4", frames=4, size="64x48", audio=None)
    res = _run_installed(installed, ["-c", "import slomo, slomo.checkpoint as c; print(slomo.__file__); "
                                            "print(c.default_checkpoint())"], elsewhere)
    assert res.returncode == 0, res.stderr
    module, ckpt = res.stdout.split()
    assert module == str(installed / "slomo" / "__init__.py")
    assert ckpt == str(installed / "slomo" / "_bundle" / "checkpoints" / "slomo-dis.pt")
    res = _run_installed(installed, ["-m", "slomo", "convert", "clip.mp4", "--scale", "2", "--fast", "-q"], elsewhere)
    assert res.returncode == 0, res.stderr[-2000:]
    from slomo.video import probe
    assert probe(elsewhere / "clip-x2.mp4").frames == 7


def test_installed_package_holds_the_bundled_data_and_nothing_else(installed):
    bundle = installed / "slomo" / "_bundle"
    files = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())
    checkout = sorted(p.relative_to(REPO).as_posix() for d in ("checkpoints", "data") for p in (REPO / d).rglob("*")
                      if p.is_file() and p.suffix in (".pt", ".md", ".mkv", ".mp4", ".png", ".jpg"))
    assert files == checkout
    assert {"checkpoints/slomo-dis.pt", "checkpoints/slomo-unet.pt", "data/pancake-flip.mkv"} <= set(files)
    assert not any(f.endswith(".py") for f in files)
    res = _run_installed(installed, ["-c", "import slomo.notebook as n; print(n.data_path('triplets', 'ucf101'))"],
                         installed.parent)
    assert res.stdout.strip() == str(bundle / "data" / "triplets" / "ucf101"), res.stderr


def test_every_package_under_slomo_is_installed():
    from setuptools import find_namespace_packages
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {p for p in find_namespace_packages(str(REPO), include=["slomo", "slomo.*"])
             if any((REPO / p.replace(".", "/")).glob("*.py"))}
    assert found and found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages in pyproject.toml"
