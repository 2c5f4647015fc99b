"""`slomo convert` on the command line: one clear stderr line and a non-zero exit for each mistake."""
import os
import signal
from pathlib import Path

import pytest
import torch
from _clips import has_audio, interrupted_convert, make_clip, stream_times, tiny_model

from slomo import files
from slomo.cli import main

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    good = make_clip(d / "my clip.mp4", frames=4, rate="30", audio="aac")
    one = make_clip(d / "one.mp4", frames=1, audio=None)
    (d / "notes.mp4").write_text("these are notes, not a video\n")
    tiny = tiny_model(d / "tiny.pt")
    (d / "corrupt.pt").write_bytes(b"\x00garbage" * 100)
    torch.save({"weights": torch.zeros(3)}, d / "other.pt")
    return {"dir": d, "good": good, "one": one, "notes": d / "notes.mp4", "tiny": tiny}


def _fails(capsys, argv, match):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("slomo convert: error:"), err
    assert match in lines[0], lines[0]


def test_missing_file(capsys, clips):
    _fails(capsys, ["convert", str(clips["dir"] / "nope.mp4")], "no such file")


def test_not_a_video(capsys, clips):
    _fails(capsys, ["convert", str(clips["notes"]), "--method", "blend"], "not a video")


def test_single_frame(capsys, clips):
    _fails(capsys, ["convert", str(clips["one"]), "--method", "blend"], "only one decodable")


def test_zero_frames(capsys, clips, tmp_path):
    broken = tmp_path / "broken.mkv"
    broken.write_bytes((make_clip(tmp_path / "full.mkv", frames=6, audio=None)).read_bytes()[:600])
    _fails(capsys, ["convert", str(broken), "--method", "blend"], "no decodable")


@pytest.mark.parametrize("scale", ["1", "0", "2.5", "two"])
def test_bad_scale(capsys, clips, scale):
    _fails(capsys, ["convert", str(clips["good"]), "--scale", scale], "--scale")


@pytest.mark.parametrize("fps", ["0", "-30"])
def test_bad_fps(capsys, clips, fps):
    _fails(capsys, ["convert", str(clips["good"]), f"--fps={fps}"], "--fps")


@pytest.mark.parametrize("name, match", [("missing.pt", "not found"), ("corrupt.pt", "corrupt"),
                                         ("other.pt", "not a Super SloMo checkpoint")])
def test_bad_checkpoint(capsys, clips, name, match):
    _fails(capsys, ["convert", str(clips["good"]), f"--checkpoint={clips['dir'] / name}"], match)


def test_unwritable_output_folder(capsys, clips, tmp_path, monkeypatch):
    _fails(capsys, ["convert", str(clips["good"]), "-o", str(tmp_path / "no" / "x.mp4")], "does not exist")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if os.access(locked, os.W_OK):  # root ignores permissions: make the temporary file fail instead
        def refuse(*a, **k):
            raise PermissionError(13, "Permission denied")
        monkeypatch.setattr(files.tempfile, "mkstemp", refuse)
    _fails(capsys, ["convert", str(clips["good"]), "-o", str(locked / "x.mp4"), "--method", "blend"],
           "cannot write")
    assert list(locked.iterdir()) == []


def test_output_is_input_and_existing_output(capsys, clips):
    _fails(capsys, ["convert", str(clips["good"]), "-o", str(clips["good"]), "--overwrite"], "is the input")
    before = clips["good"].read_bytes()
    existing = clips["dir"] / "exists.mp4"
    existing.write_bytes(b"keep me")
    _fails(capsys, ["convert", str(clips["good"]), "-o", str(existing)], "--overwrite")
    assert existing.read_bytes() == b"keep me" and clips["good"].read_bytes() == before


def test_success_with_reference_spellings(capsys, clips):
    code = main(["convert", str(clips["good"]), "--sf", "3", f"--checkpoint={clips['tiny']}", "--quiet"])
    assert code == 0 and capsys.readouterr().err == ""
    out = clips["dir"] / "my clip-x3.mp4"          # default name, beside the input, spaces kept
    assert len(stream_times(out)[0]) == 10 and has_audio(out)


def test_reference_checkpoint_format(capsys, clips):
    from slomo import SuperSloMo, write_reference_checkpoint
    model = SuperSloMo(width=0.25, flow="unet")
    ref = write_reference_checkpoint(clips["dir"] / "SuperSloMo.ckpt", model.flow.state_dict(),
                                     model.interp.state_dict())
    out = clips["dir"] / "ref.mp4"
    assert main(["convert", str(clips["good"]), "--sf", "2", f"--checkpoint={ref}", "-o", str(out), "-q"]) == 0
    assert len(stream_times(out)[0]) == 7


def test_truncated_header_converts_what_decodes(capsys, shared_data, tmp_path):
    tree = shared_data / "videos" / "tree.avi"
    if not tree.is_file():
        pytest.skip("tree.avi not in shared data")
    out = tmp_path / "tree.mp4"
    code = main(["convert", str(tree), "-o", str(out), "--method", "duplicate", "--quiet"])
    err = capsys.readouterr().err
    assert code == 0 and "claims 444 frames but only 68 decode" in err
    assert len(stream_times(out)[0]) == 67 * 2 + 1


def test_ctrl_c_removes_partial_file_and_exits_nonzero(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=40, audio="aac")
    res = interrupted_convert(clip, signal.SIGINT, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert res.returncode == 130 and "interrupted" in res.stderr and "Traceback" not in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_the_command_runs_atexit_handlers_and_keeps_the_exit_code(tmp_path):
    """`slomo` skips the interpreter's teardown (slow after a conversion) but not the atexit handlers."""
    import subprocess
    import sys
    code = ("import atexit, sys; from slomo import cli; atexit.register(lambda: print('atexit ran', flush=True)); "
            f"sys.argv = ['slomo', 'convert', {str(tmp_path / 'missing.mp4')!r}]; cli.entry()")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stdout.strip() == "atexit ran"
    assert out.stderr.strip().startswith("slomo convert: error: no such file")
