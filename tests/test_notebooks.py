"""Every notebook runs headless, top to bottom, in fast mode injected after its `parameters` cell."""
import os
import shutil
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
SHARED = REPO.parent / "shared" / "data"


def inject(nb, values: dict):
    """Insert a cell assigning `values` right after the cell tagged `parameters` (as papermill does)."""
    idx = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(idx) == 1, "exactly one cell must be tagged 'parameters'"
    cell = nbformat.v4.new_code_cell("# Parameters (injected)\n" + "\n".join(f"{k} = {v!r}" for k, v in values.items()))
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(idx[0] + 1, cell)
    return nb


def execute(nb, cwd: Path):
    from nbclient import NotebookClient
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    env.pop("MPLBACKEND", None)  # the notebooks draw inline
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    client.execute(env=env)  # raises CellExecutionError on the first failing cell
    return nb


def outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def test_there_are_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert "Super-SloMo.ipynb" in names and len(names) >= 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs_with_setup_and_parameters(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "strip outputs before committing"
    assert 'find_spec("slomo")' in code[0].source and "resolve_device" in code[0].source
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "fast = False" in tagged[0].source
    assert "Exercises" in nb.cells[-1].source or path.name == "Super-SloMo.ipynb"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.name != "Super-SloMo.ipynb"], ids=lambda p: p.stem)
def test_numbered_notebook_runs_in_fast_mode(path, tmp_path):
    nb = inject(nbformat.read(path, as_version=4), {"fast": True, "output_dir": str(tmp_path / "out")})
    execute(nb, path.parent)
    assert not any(o.get("output_type") == "error" for o in outputs(nb))


def test_super_slomo_respects_injected_parameters(tmp_path):
    """The acceptance run: a video it has never seen, with spaces in its name, and injected values."""
    src = SHARED / "videos" / "realshort.mp4"
    if not src.is_file():
        pytest.skip(f"{src} not found")
    video = tmp_path / "my holiday clip (2).mp4"
    shutil.copy(src, video)
    out = tmp_path / "results here"
    path = REPO / "notebooks" / "Super-SloMo.ipynb"
    nb = inject(nbformat.read(path, as_version=4),
                {"video_path": str(video), "scale": 2, "output_dir": str(out), "checkpoint": None, "fast": True,
                 "mirror": False})
    execute(nb, path.parent)
    written = sorted(p.name for p in out.glob("*.mp4"))
    assert "my holiday clip (2)-first1s-x2.mp4" in written, written
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs(nb))
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs(nb))
    assert html.count("<video") == 2 and "data:video/mp4;base64," in html
