"""Every notebook runs headless, top to bottom, in fast mode injected after its `parameters` cell, on the
bundled data; the one-stop notebook also runs on its own in an empty folder, installing slomo from
`REPO_URL` (tests/test_hosted.py)."""
import json
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
sys.path.insert(0, str(REPO / "notebooks"))
import set_repo_url  # noqa: E402  (notebooks/set_repo_url.py)


def inject(nb, values: dict):
    """Insert a cell assigning `values` right after the cell tagged `parameters` (as papermill does)."""
    idx = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(idx) == 1, "exactly one cell must be tagged 'parameters'"
    cell = nbformat.v4.new_code_cell("# Parameters (injected)\n" + "\n".join(f"{k} = {v!r}" for k, v in values.items()))
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(idx[0] + 1, cell)
    return nb


def execute(nb, cwd: Path, env: dict = None, kernel_name: str = "python3"):
    """Run `nb` in a fresh kernel whose working folder is `cwd`; by default the kernel imports this
    checkout's slomo (PYTHONPATH)."""
    from nbclient import NotebookClient
    if env is None:
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env.pop("MPLBACKEND", None)  # the notebooks draw inline
    client = NotebookClient(nb, timeout=600, kernel_name=kernel_name, resources={"metadata": {"path": str(cwd)}})
    client.execute(env=env)  # raises CellExecutionError on the first failing cell
    return nb


def outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def text_of(nb) -> str:
    """Everything the cells printed (streams and plain-text results)."""
    parts = []
    for o in outputs(nb):
        if o.get("output_type") == "stream":
            parts.append(o.get("text", ""))
        else:
            parts.append(o.get("data", {}).get("text/plain", ""))
    return "".join(parts)


# ---- how the notebooks are stored ------------------------------------------------------------------
def test_there_are_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert "Super-SloMo.ipynb" in names and {f"0{k}" for k in range(1, 6)} <= {n[:2] for n in names}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs_with_a_short_setup_and_parameters(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "strip outputs before committing"
    setup = code[0].source
    assert re.search(r'^REPO_URL = "[^"]+"', setup, re.M) and 'find_spec("slomo")' in setup
    assert setup.rstrip().splitlines()[-1].startswith("nb = slomo.notebook.setup()")
    assert len(setup.splitlines()) <= 18, "the setup cell stays short: the work is in slomo.notebook.setup()"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "fast = False" in tagged[0].source
    assert "Exercises" in nb.cells[-1].source or path.name == "Super-SloMo.ipynb"


def test_repo_url_is_the_one_in_pyproject():
    url = set_repo_url.repo_url()
    assert url.startswith("https://") and url.count("/") >= 4
    assert {p.name: set_repo_url.notebook_url(p) for p in NOTEBOOKS} == {p.name: url for p in NOTEBOOKS}, \
        "run python notebooks/set_repo_url.py"


def test_set_repo_url_rewrites_that_line_only(tmp_path):
    src = REPO / "notebooks" / "Super-SloMo.ipynb"
    copy = tmp_path / src.name
    shutil.copy(src, copy)
    assert set_repo_url.set_url(copy, "file:///somewhere/else") is True
    assert set_repo_url.notebook_url(copy) == "file:///somewhere/else"
    before, after = json.loads(src.read_text()), json.loads(copy.read_text())
    changed = [i for i, (a, b) in enumerate(zip(before["cells"], after["cells"])) if a != b]
    assert changed == [1]
    assert set_repo_url.set_url(copy, set_repo_url.repo_url()) is True
    assert copy.read_bytes() == src.read_bytes()  # written exactly as nbformat writes it


# the words of the development history that user-facing files must not contain
HISTORY = re.compile(r"\.\./shared|shared/data|(?-i:\bSHARED\b)|\b(sessions?|lent)\b|Honestly:|this machine|"
                     r"measured here|cannot be downloaded here|two sessions", re.I)


def test_user_facing_files_hold_no_development_history():
    folders = ("notebooks", "configs", "docs", "data", "slomo")
    files = [p for f in folders for p in (REPO / f).rglob("*")
             if p.is_file() and p.suffix in (".ipynb", ".md", ".toml", ".py", ".txt")]
    files += [REPO / "README.md", REPO / "checkpoints" / "README.md"]
    assert len(files) >= 40
    found = [f"{p.relative_to(REPO)}: {m.group(0)!r}" for p in files for m in HISTORY.finditer(p.read_text())]
    assert not found, found


# ---- running them ------------------------------------------------------------------------------------
NUMBERED = [p for p in NOTEBOOKS if p.name != "Super-SloMo.ipynb"]
# what each numbered notebook must show on the bundled data (regular expressions over its printed text)
SHOWS = {
    "01-data": [r"train: +\d+ clips", r"val  : +[1-9]\d* clips", r"test : +[1-9]\d* clips", r"21 samples"],
    "03-training": [r"step +0: validation PSNR", r"step +\d+: validation PSNR .*\n.*step +\d+: validation PSNR",
                    r"trained here +PSNR"],
    "04-inference": [r"model.s Vt0: separation [+-]0\.\d+", r"true visibility: separation \+0\.[1-9]", r"weights: slomo-dis\.pt \(shipped with slomo\)"],
    "05-evaluation": [r"weights: slomo-dis\.pt", r"weights: slomo-unet\.pt"],
}


@pytest.mark.parametrize("path", NUMBERED, ids=lambda p: p.stem)
def test_numbered_notebook_runs_in_fast_mode_on_the_bundled_data(path, tmp_path):
    nb = inject(nbformat.read(path, as_version=4), {"fast": True, "output_dir": str(tmp_path / "out")})
    execute(nb, tmp_path)
    assert not any(o.get("output_type") == "error" for o in outputs(nb))
    printed = text_of(nb)
    for pattern in SHOWS.get(path.stem, []):
        assert re.search(pattern, printed), (pattern, printed[-3000:])
    if path.stem == "05-evaluation":  # the table of methods
        table = "".join(o.get("data", {}).get("text/markdown", "") for o in outputs(nb))
        assert table.count("\n| ") >= 5 and "| Super SloMo |" in table, table


def _super_slomo(values: dict):
    path = REPO / "notebooks" / "Super-SloMo.ipynb"
    return inject(nbformat.read(path, as_version=4), {"fast": True, "mirror": False, **values})


def test_super_slomo_respects_injected_parameters(tmp_path):
    """A video it has never seen, with spaces in its name, and injected scale and fps."""
    video = tmp_path / "my holiday clip (2).mp4"
    shutil.copy(REPO / "data" / "videos" / "cups.mp4", video)
    out = tmp_path / "results here"
    nb = _super_slomo({"video_path": str(video), "scale": 2, "fps": 40, "output_dir": str(out),
                       "checkpoint": "shipped"})
    execute(nb, REPO / "notebooks")
    written = sorted(p.name for p in out.glob("*.mp4"))
    assert "my holiday clip (2)-first1s-x2.mp4" in written, written
    printed = text_of(nb)
    assert "weights: slomo-dis.pt (shipped with slomo)" in printed and "(video_path)" in printed
    from slomo.video import probe
    assert float(probe(out / "my holiday clip (2)-first1s-x2.mp4").fps) == pytest.approx(40, abs=0.01)
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs(nb))
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs(nb))
    assert html.count("<video") == 2 and "data:video/mp4;base64," in html


def test_super_slomo_converts_the_newest_upload_in_its_folder(tmp_path):
    """What Run All does after an upload: no video_path, the newest video beside the notebook wins."""
    older, newer = tmp_path / "older.mp4", tmp_path / "uploads" / "my upload.mp4"
    newer.parent.mkdir()
    shutil.copy(REPO / "data" / "videos" / "coffee.mp4", older)
    shutil.copy(REPO / "data" / "videos" / "blocks.mp4", newer)
    os.utime(older, (1_000_000_000, 1_000_000_000))
    nb = _super_slomo({"scale": 2, "output_dir": "out"})
    execute(nb, tmp_path)
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert "my upload-first1s-x2.mp4" in written, written
    assert "(the newest upload)" in text_of(nb)
    assert "weights: slomo-dis.pt (shipped with slomo): DIS optical flow on the CPU" in text_of(nb)
