"""slomo.notebook: the setup line, the clip a notebook converts, uploads, and which weights it uses."""
import os
import sys
import types
import urllib.error

import numpy as np
import pytest
import torch

import slomo
from slomo import notebook, pretrained
from slomo.errors import InputError


def test_setup_picks_the_device_seeds_and_says_so(capsys):
    nb = notebook.setup("cpu", seed=3)
    a = torch.rand(3), np.random.rand()
    notebook.setup("cpu", seed=3)
    b = torch.rand(3), np.random.rand()
    assert torch.equal(a[0], b[0]) and a[1] == b[1]
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith(f"slomo {slomo.__version__} from ") and " on cpu" in line and "seed 3" in line
    assert nb.device.type == "cpu" and not nb.colab
    assert (nb.data / "pancake-flip.mkv").is_file() and (nb.checkpoints / "slomo-dis.pt").is_file()
    assert nb.data_path("triplets", "ucf101") == notebook.data_path("triplets", "ucf101")


def _touch(path, mtime):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0")
    os.utime(path, (mtime, mtime))
    return path


def test_the_newest_upload_wins_and_outputs_are_never_taken_for_one(tmp_path, capsys):
    _touch(tmp_path / "old clip.mp4", 1_000)
    newest = _touch(tmp_path / "uploads" / "new clip.MOV", 2_000)
    for name in ("new clip-x4.mp4", "new clip.preview.mp4", "new clip-first1s.mp4", ".new clip.mov.part", "notes.txt"):
        _touch(tmp_path / name, 3_000)
    _touch(tmp_path / "outputs" / "later.mp4", 4_000)  # a subfolder: not an upload
    assert notebook.uploaded_videos(tmp_path)[0] == newest
    assert notebook.find_video("", tmp_path) == newest
    assert "(the newest upload)" in capsys.readouterr().out


def test_video_path_comes_first_and_the_bundled_clip_last(tmp_path, capsys):
    mine = _touch(tmp_path / "mine.mkv", 1_000)
    _touch(tmp_path / "other.mp4", 2_000)
    assert notebook.find_video(str(mine), tmp_path) == mine
    empty = tmp_path / "empty"
    empty.mkdir()
    assert notebook.find_video("", empty) == notebook.data_path("pancake-flip.mkv")
    assert "bundled clip" in capsys.readouterr().out
    with pytest.raises(InputError, match="video not found"):
        notebook.find_video(str(tmp_path / "missing.mp4"), tmp_path)


@pytest.fixture
def colab(monkeypatch):
    """A stand-in for google.colab.files that records calls (and 'uploads' a file into the folder)."""
    calls = []
    files = types.SimpleNamespace(upload=lambda: calls.append("upload") or {},
                                  download=lambda p: calls.append(("download", p)))
    google = types.ModuleType("google")
    google.colab = types.ModuleType("google.colab")
    google.colab.files = files
    google.colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append("widgets"))
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", google.colab)
    return calls


def test_on_colab_upload_asks_only_while_nothing_is_uploaded_and_download_starts(colab, tmp_path):
    assert notebook.colab_files() is not None and notebook.setup("cpu").colab and colab == ["widgets"]
    assert notebook.upload(tmp_path) is None and colab == ["widgets", "upload"]
    notebook.upload(tmp_path, ask=False)
    _touch(tmp_path / "clip.mp4", 1_000)
    notebook.upload(tmp_path)
    assert colab == ["widgets", "upload"]
    notebook.offer_download(tmp_path / "clip.mp4")
    assert colab[-1] == ("download", str(tmp_path / "clip.mp4"))


def test_in_jupyter_upload_is_a_small_file_button_saving_beside_the_notebook(tmp_path):
    assert notebook.colab_files() is None
    up = notebook.upload(tmp_path)
    assert up.folder == tmp_path / "uploads" and "10 MB" in up.message.value
    up._on_upload({"new": [{"name": "holiday.mp4", "content": memoryview(b"abc")}]})
    assert notebook.uploaded_videos(tmp_path) == [tmp_path / "uploads" / "holiday.mp4"]
    assert "file browser" in up.note.value and "chunks" in up.note.value  # the way for big files


def test_auto_weights_on_a_cpu_are_the_shipped_ones(capsys):
    model = notebook.load("auto", "cpu")
    assert model.checkpoint_path == str(slomo.checkpoint.default_checkpoint())
    line = capsys.readouterr().out.strip()
    assert line == ("weights: slomo-dis.pt (shipped with slomo): DIS optical flow on the CPU, interpolation "
                    "network on cpu (no GPU)")


def test_auto_weights_on_a_gpu_are_the_reference_when_they_download(monkeypatch, capsys, tmp_path):
    asked, loaded = [], []
    stand_in = pretrained.untrained_model("cpu")
    monkeypatch.setattr(slomo.runtime, "resolve_device", lambda d=None: torch.device("cuda"))
    monkeypatch.setattr(pretrained, "download_reference", lambda **kw: asked.append(kw) or tmp_path / "ref.ckpt")
    monkeypatch.setattr(pretrained, "get_model", lambda ckpt, dev: loaded.append((ckpt, dev)) or stand_in)
    assert notebook.load("auto") is stand_in
    assert asked == [{}] and loaded == [(tmp_path / "ref.ckpt", torch.device("cuda"))]


def test_reference_weights_offline_fall_back_to_the_shipped_ones_in_one_line(monkeypatch, capsys):
    def offline(**kw):
        raise urllib.error.URLError("no route to host")
    monkeypatch.setattr(pretrained, "download_reference", offline)
    model = notebook.load("reference", "cpu")
    assert model.checkpoint_path == str(slomo.checkpoint.default_checkpoint())
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "could not be downloaded: no route to host" in out[0]


def test_reference_weights_are_named_as_the_papers(monkeypatch, capsys, tmp_path):
    torch.manual_seed(0)
    small = slomo.SuperSloMo(width=0.125, flow="unet")
    ref = slomo.write_reference_checkpoint(tmp_path / "SuperSloMo.ckpt", small.flow.state_dict(),
                                           small.interp.state_dict())
    monkeypatch.setattr(pretrained, "download_reference", lambda **kw: ref)
    model = notebook.load("reference", "cpu")
    assert model.checkpoint_path == str(ref)
    assert capsys.readouterr().out.strip() == ("weights: SuperSloMo.ckpt (the paper's pretrained model): flow and "
                                               "interpolation networks on cpu")
