"""The hosted path: only `Super-SloMo.ipynb`, in an empty folder, on a kernel without slomo. Its first
cell must install slomo from `REPO_URL` (here the file:// URL of a clone of this working tree, as a user
points it at the repository or a fork) and the notebook must run top to bottom on the bundled clip."""
import json
import re

import nbformat
from conftest import REPO
from test_notebooks import execute, inject, outputs, text_of

import set_repo_url  # noqa: E402  (notebooks/, put on sys.path by test_notebooks)


def kernelspec(folder, python):
    """A Jupyter kernel running `python` (found through JUPYTER_PATH=folder)."""
    spec = folder / "kernels" / "hosted"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "hosted", "language": "python"}))
    return "hosted"


def test_the_notebook_alone_installs_slomo_from_repo_url_and_runs(tmp_path, repo_clone, kernel_without_slomo,
                                                                 monkeypatch):
    python, env = kernel_without_slomo
    folder = tmp_path / "only the notebook"
    folder.mkdir()
    path = folder / "Super-SloMo.ipynb"
    nb = nbformat.read(REPO / "notebooks" / "Super-SloMo.ipynb", as_version=4)
    nbformat.write(inject(nb, {"fast": True, "mirror": False}), str(path))
    url = f"file://{repo_clone}"
    assert set_repo_url.set_url(path, url)  # what a user edits: the one visible parameter of the first cell
    assert list(folder.iterdir()) == [path]

    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    nb = execute(nbformat.read(path, as_version=4), folder, env=dict(env),
                 kernel_name=kernelspec(tmp_path / "jupyter", python))

    assert not any(o.get("output_type") == "error" for o in outputs(nb))
    printed = text_of(nb)
    where = re.search(r"slomo \S+ from (\S+) on cpu", printed)
    assert where and where.group(1).startswith(str(python.parent.parent)) and "site-packages" in where.group(1), printed
    assert "pancake-flip.mkv (the bundled clip" in printed and "_bundle" in printed
    assert "weights: slomo-dis.pt (shipped with slomo)" in printed
    written = sorted(p.name for p in (folder / "outputs" / "notebook").glob("*.mp4"))
    assert "pancake-flip-first1s-x4.mp4" in written, written
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs(nb))
    assert html.count("<video") == 2
