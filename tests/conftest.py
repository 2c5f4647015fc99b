import os
import sys
from pathlib import Path

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

REPO = Path(__file__).resolve().parent.parent


def checkpoint_script(name: str):
    """The module of a script in checkpoints/ (they are not part of the package), loaded from its file."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, REPO / "checkpoints" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
SHARED = REPO.parent / "shared" / "data"


@pytest.fixture
def rng():
    return torch.Generator().manual_seed(0)


@pytest.fixture(scope="session")
def shared_data():
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED


def _working_tree_files(root: Path) -> list:
    """The files of the working tree a user's clone would hold: git's tracked and untracked-but-not-
    ignored files (so uncommitted changes count), or, outside git, everything but build outputs."""
    import subprocess
    try:
        out = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=root,
                             capture_output=True, check=True).stdout.decode()
        names = [n for n in out.split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "outputs", "runs", "build", "dist", "__pycache__", ".pytest_cache"}
        names = [str(p.relative_to(root)) for p in root.rglob("*")
                 if p.is_file() and not skip & set(p.relative_to(root).parts)]
    return [n for n in names if (root / n).is_file()]


@pytest.fixture(scope="session")
def repo_clone(tmp_path_factory):
    """A git repository holding this working tree as one commit: what `git clone` of the project gives
    (REPO_URL = its file:// URL), without this checkout's build outputs or virtual environment."""
    import shutil
    import subprocess
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    dest = tmp_path_factory.mktemp("clone") / "slomo"
    for name in _working_tree_files(REPO):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, dest / name)
    git = ["git", "-c", "user.name=slomo tests", "-c", "user.email=tests@localhost", "-c", "init.defaultBranch=main"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "working tree"]):
        subprocess.run([*git, *cmd], cwd=dest, check=True)
    return dest


@pytest.fixture(scope="session")
def kernel_without_slomo(tmp_path_factory):
    """A Python like a hosted notebook's: a fresh virtual environment that sees this environment's
    packages (torch, ipykernel, pip, setuptools, ...) but not slomo. Returns (python, env) where env
    keeps pip offline (no index, no build isolation): whatever it installs must come from local files."""
    import site
    import subprocess
    root = tmp_path_factory.mktemp("hosted")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    python = root / "venv" / "bin" / "python"
    view = root / "packages"  # this environment's site-packages, less slomo's own entries
    view.mkdir()
    for sp in site.getsitepackages():
        for entry in Path(sp).iterdir():
            if entry.name.startswith(("slomo", "__editable__")) or (view / entry.name).exists():
                continue
            (view / entry.name).symlink_to(entry)
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "outer-packages.pth").write_text(f"{view}\n")  # a path line: its own .pth files stay unread
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}", PIP_NO_INDEX="1",
               PIP_NO_BUILD_ISOLATION="0",  # pip reads "0" here as --no-build-isolation
               PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1",
               OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    check = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('slomo'))"],
                           capture_output=True, text=True, env=env, cwd=root, check=True)
    assert check.stdout.strip() == "None", "the fresh environment must not see slomo"
    return python, env
