"""Faults: nothing a user owns is lost, nothing runs from a file, every mistake gets one line.

Full disks (a small tmpfs where mounting is allowed; /dev/full otherwise), kill -9 in the middle of a
write, concurrent writers, tampered and corrupt training state, overlapping folders, non-finite input,
and property tests (hypothesis) of CLI arguments and config values: any value works, or gets one line
and a non-zero exit, never a traceback.
"""
import ast
import contextlib
import io
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
import typing
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from _clips import frames_of, has_audio, interrupted_convert, make_clip, stream_times, tiny_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slomo import (
    CheckpointError,
    InputError,
    SlomoError,
    SuperSloMo,
    video,
    write_checkpoint,
)
from slomo.checkpoint import atomic_save
from slomo.cli import main
from slomo.data import prepare
from slomo.ffmpeg_binary import ffmpeg_exe
from slomo.train import TrainConfig, Trainer, train
from slomo.video import conversion, ffmpeg
from slomo.video.interpolator import FrameInterpolator

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
TINY_MODEL = {"width": 0.125, "flow": "unet", "padding": "border", "leaky_head": False}
PROPERTY = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# ---- helpers ---------------------------------------------------------------------------------------
def cli(argv):
    """(exit code, stderr) of `slomo ARGV`, run in this process."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as e:
            code = e.code
    return code, err.getvalue()


def one_line(code, err, command, match=None):
    """The CLI failed with one `slomo COMMAND: error:` line (containing `match`) and no traceback."""
    assert code not in (0, None), err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"slomo {command}: error:"), err
    if match is not None:
        assert match.lower() in lines[0].lower(), lines[0]
    return lines[0]


def hidden(folder):
    """Hidden entries of a folder: what temporary files would be."""
    return sorted(p.name for p in Path(folder).iterdir() if p.name.startswith("."))


def wait_for(predicate, timeout=120.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def texture_frames(folder, n=6, seed=0, H=48, W=64):
    """`n` frames of a random texture panning 2 px per frame, as PNG files."""
    folder.mkdir(parents=True)
    r = np.random.default_rng(seed)
    small = (r.random((H // 4, W // 4 + 8, 3)) * 255).astype(np.uint8)
    tex = cv2.resize(small, (W + 32, H), interpolation=cv2.INTER_LINEAR)
    for i in range(n):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.ascontiguousarray(tex[:, 2 * i:2 * i + W, ::-1]))
    return folder


def source_videos(folder, n=3):
    folder.mkdir(parents=True)
    for k in range(n):
        make_clip(folder / f"v{k}.mp4", frames=8, audio=None, source="testsrc2")
    return folder


@pytest.fixture
def small_disk(tmp_path):
    """make(size) -> a folder on a tmpfs of that size (needs the right to mount; skipped without it)."""
    mounted = []

    def make(size="64k"):
        d = tmp_path / f"disk{len(mounted)}"
        d.mkdir()
        if shutil.which("mount") is None:
            pytest.skip("no mount command")
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(d)], capture_output=True)
        if res.returncode:
            pytest.skip(f"cannot mount a tmpfs here ({res.stderr.decode().strip()[:80]})")
        mounted.append(d)
        return d
    yield make
    for d in mounted:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def fill(folder):
    """Fill the disk holding `folder` to the last byte."""
    fd = os.open(Path(folder) / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A prepared training set: 3 sequences of textures panning at 2 px per frame."""
    root = tmp_path_factory.mktemp("train")
    for k in range(3):
        texture_frames(root / "src" / f"v{k}", n=10, seed=k)
    prepare(root / "src", root / "ds", clip_length=5, split=(1, 0, 0), progress=False)
    return root / "ds"


def tiny_config(data, out, **kw):
    d = dict(data=str(data), out=str(out), model=dict(TINY_MODEL), steps=6, batch_size=2, crop=32, span=2,
             lr=2e-3, augment=False, threads=1, log_every=2, val_every=0, ckpt_every=3, progress=False,
             weights={"reconstruction": 1.0, "warping": 0.5, "smoothness": 0.01})
    d.update(kw)
    return TrainConfig(**d)


def config_file(cfg, path):
    path.write_text(json.dumps(cfg.to_dict()))
    return path


# ---- 1. overlapping folders, and --overwrite replacing only a command's own output -------------------
@pytest.mark.parametrize("layout", ["same", "output holds input", "output inside input"])
def test_prepare_refuses_folders_that_overlap_its_input(tmp_path, layout):
    vids = source_videos(tmp_path / "proj" / "vids")
    before = sorted(p.name for p in vids.iterdir())
    out = {"same": vids, "output holds input": tmp_path / "proj",
           "output inside input": vids / "ds"}[layout]
    one_line(*cli(["prepare", vids, out, "--overwrite", "--clip-length", "3", "--quiet"]), "prepare", "input")
    assert sorted(p.name for p in vids.iterdir()) == before  # every source video still there
    assert not (vids / "ds").exists()


def test_prepare_overwrite_replaces_only_an_earlier_dataset(tmp_path):
    vids = source_videos(tmp_path / "vids")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("years of work")
    one_line(*cli(["prepare", vids, mine, "--overwrite", "--clip-length", "3", "--quiet"]), "prepare")
    assert (mine / "thesis.txt").read_text() == "years of work"
    ds = tmp_path / "ds"
    assert cli(["prepare", vids, ds, "--clip-length", "3", "--quiet"])[0] == 0
    assert cli(["prepare", vids, ds, "--clip-length", "4", "--quiet", "--overwrite"])[0] == 0
    assert json.loads((ds / "manifest.json").read_text())["clip_length"] == 4
    assert hidden(tmp_path) == []


@pytest.mark.parametrize("where", ["an existing file", "a path below a file"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_prepare_onto_a_file(tmp_path, where, overwrite):
    vids = source_videos(tmp_path / "vids")
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    out = notes if where == "an existing file" else notes / "ds"
    one_line(*cli(["prepare", vids, out, "--clip-length", "3", "--quiet"] + ["--overwrite"] * overwrite), "prepare")
    assert notes.read_text() == "keep me"


def test_convert_overwrite_replaces_only_an_earlier_conversion(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=3, audio=None)
    holiday = make_clip(tmp_path / "holiday.mp4", frames=4, audio=None)
    kept = holiday.read_bytes()
    one_line(*cli(["convert", clip, "-o", holiday, "--method", "blend", "--overwrite", "-q"]), "convert")
    assert holiday.read_bytes() == kept
    out = tmp_path / "out.mp4"
    assert cli(["convert", clip, "-o", out, "--method", "blend", "-q"])[0] == 0
    assert cli(["convert", clip, "-o", out, "--scale", "3", "--method", "blend", "-q", "--overwrite"])[0] == 0
    assert len(stream_times(out)[0]) == 7


def test_evaluate_never_replaces_a_file_it_did_not_write(tmp_path):
    data = tmp_path / "data"
    for k in range(2):
        texture_frames(data / f"s{k}", n=3, seed=k)
    notes = tmp_path / "results.csv"
    notes.write_text("my own table\n")
    one_line(*cli(["evaluate", data, "--method", "blend", "-o", notes, "-q"]), "evaluate", "exists")
    one_line(*cli(["evaluate", data, "--method", "blend", "-o", notes, "-q", "--overwrite"]), "evaluate")
    assert notes.read_text() == "my own table\n"
    one_line(*cli(["evaluate", data, "--method", "blend", "-o", data / "s0" / "r.csv", "-q"]), "evaluate", "input")
    res = tmp_path / "res.csv"
    assert cli(["evaluate", data, "--method", "blend", "-o", res, "-q"])[0] == 0
    assert cli(["evaluate", data, "--method", "duplicate", "-o", res, "-q", "--overwrite"])[0] == 0
    assert res.read_text().startswith("sample,t,psnr")


def test_train_writes_only_into_its_own_run_folders(dataset, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"theme": "dark"}')
    cfg = config_file(tiny_config(dataset, mine, steps=1), tmp_path / "a.json")
    one_line(*cli(["train", cfg]), "train", "run folder")
    assert (mine / "config.json").read_text() == '{"theme": "dark"}' and sorted(os.listdir(mine)) == ["config.json"]
    inside = config_file(tiny_config(dataset, dataset / "run", steps=1), tmp_path / "b.json")
    one_line(*cli(["train", inside]), "train", "input")
    assert not (dataset / "run").exists()


# ---- 2. training state: tampered, corrupt, not a state, non-finite; SIGTERM -------------------------
class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def run(dataset, tmp_path):
    """A finished two-step run: (its config file for `slomo train`, its run folder)."""
    cfg = tiny_config(dataset, tmp_path / "run", steps=2, ckpt_every=2)
    train(cfg)
    return config_file(tiny_config(dataset, tmp_path / "run", steps=4, ckpt_every=2), tmp_path / "cfg.json"), \
        tmp_path / "run"


def test_tampered_state_runs_no_code(run, tmp_path):
    cfg, folder = run
    marker = tmp_path / "pwned"
    torch.save({"step": 1, "model": _Evil(marker)}, folder / "state.pt")
    one_line(*cli(["train", cfg]), "train", "--fresh")
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "a checkpoint", "non-finite weights"])
def test_unusable_state_gets_one_line_suggesting_fresh(run, damage):
    cfg, folder = run
    state = folder / "state.pt"
    if damage == "truncated":
        state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])
    elif damage == "garbage":
        state.write_bytes(b"\x00not a state" * 50)
    elif damage == "a checkpoint":
        shutil.copy(folder / "last.pt", state)
    else:
        s = torch.load(state, weights_only=True)
        first = next(iter(s["model"]))
        s["model"][first] = torch.full_like(s["model"][first], math.nan)
        torch.save(s, state)
    one_line(*cli(["train", cfg]), "train", "--fresh")
    assert cli(["train", cfg, "--fresh"])[0] == 0


def test_sigterm_in_training_saves_and_exits_143_and_resumes_exactly(dataset, tmp_path, monkeypatch):
    ref = {}
    real_step = Trainer.step

    def recording(self):
        loss, m = real_step(self)
        ref[self.step_no] = loss
        return loss, m
    monkeypatch.setattr(Trainer, "step", recording)
    train(tiny_config(dataset, tmp_path / "a", ckpt_every=0))
    cfg = config_file(tiny_config(dataset, tmp_path / "b", ckpt_every=0), tmp_path / "b.json")
    script = ("import os, signal, sys\n"
              "from slomo.train import Trainer\n"
              "real = Trainer.step\n"
              "def step(self):\n"
              "    if self.step_no == 3: os.kill(os.getpid(), signal.SIGTERM)\n"
              "    return real(self)\n"
              "Trainer.step = step\n"
              "from slomo.cli import main\n"
              f"sys.exit(main(['train', {str(cfg)!r}]))\n")
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=ENV, timeout=300)
    assert res.returncode == 143, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    assert torch.load(tmp_path / "b" / "state.pt", weights_only=True)["step"] == 3
    ref_losses = dict(ref)
    resumed = {}

    def collecting(self):
        loss, m = real_step(self)
        resumed[self.step_no] = loss
        return loss, m
    monkeypatch.setattr(Trainer, "step", collecting)
    train(tiny_config(dataset, tmp_path / "b", ckpt_every=0))
    assert sorted(resumed) == [4, 5, 6]
    assert all(resumed[s] == pytest.approx(ref_losses[s], rel=1e-4) for s in resumed)


def test_sigterm_in_convert_removes_the_partial_file_and_exits_143(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=40, audio="aac")
    res = interrupted_convert(clip, signal.SIGTERM, env=ENV)
    assert res.returncode == 143 and "Traceback" not in res.stderr, res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_every_torch_load_is_weights_only():
    unsafe = []
    for folder in ("slomo", "tests", "bench"):
        for py in sorted((REPO / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(py.read_text())):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load"
                        and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch"):
                    kw = {k.arg: k.value for k in node.keywords}
                    if not (isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True):
                        unsafe.append(f"{py.relative_to(REPO)}:{node.lineno}")
    assert unsafe == []


# ---- 3. permissions -------------------------------------------------------------------------------
def test_prepared_folders_are_open_to_others(tmp_path):
    vids = source_videos(tmp_path / "vids")
    old = os.umask(0o022)
    try:
        prepare(vids, tmp_path / "ds", clip_length=3, progress=False)
    finally:
        os.umask(old)
    folders = [tmp_path / "ds"] + [p for p in (tmp_path / "ds").rglob("*") if p.is_dir()]
    files = [p for p in (tmp_path / "ds").rglob("*") if p.is_file()]
    assert {oct(p.stat().st_mode & 0o777) for p in folders} == {"0o755"}
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {"0o644"}


# ---- 4. memory bounded for any argument -------------------------------------------------------------
def _limited(argv):
    """`slomo ARGV` in a child with at most 6 GB of address space (a runaway allocation fails there
    instead of taking this machine's memory)."""
    def limit():
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        cap = 6 << 30 if hard == resource.RLIM_INFINITY else min(6 << 30, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    return subprocess.Popen([sys.executable, "-m", "slomo", *map(str, argv)], env=ENV, preexec_fn=limit,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)


def test_a_scale_no_mp4_can_hold_is_refused_with_the_limit(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=4, audio=None)
    p = _limited(["convert", clip, "--scale", "100000000000", "--method", "blend", "-q"])
    _, err = p.communicate(timeout=300)
    one_line(p.returncode, err, "convert", "2147483647")
    assert sorted(os.listdir(tmp_path)) == ["in.mp4"]


def test_a_huge_scale_runs_in_bounded_memory(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=4, size="32x32", audio=None)
    p = _limited(["convert", clip, "-o", tmp_path / "out.mp4", "--scale", "300000000", "--method", "blend", "-q"])
    try:
        def grown():
            try:
                return p.poll() is not None or any((tmp_path / n).stat().st_size > 20_000 for n in hidden(tmp_path))
            except FileNotFoundError:
                return False
        growing = wait_for(grown, timeout=180)
        assert p.poll() is None, p.communicate()[1][-2000:]
        assert growing
        rss = int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{p.pid}/status").read_text()).group(1)) * 1024
        assert rss < 2 << 30
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 143 and "Traceback" not in err, err[-2000:]
    assert sorted(os.listdir(tmp_path)) == ["in.mp4"]


def test_more_workers_than_four_per_core_is_refused_with_the_limit(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=3, audio=None)
    most = 4 * os.cpu_count()
    one_line(*cli(["convert", clip, "--workers", most + 1, "--method", "blend", "-q"]), "convert", str(most))


# ---- 5. full disks: ffmpeg's cause, the audio step, Python writers ---------------------------------
def test_a_full_disk_is_named_and_leaves_nothing(tmp_path, small_disk):
    clip = make_clip(tmp_path / "in.mp4", frames=30, size="128x96", audio="aac")
    disk = small_disk("64k")
    fill(disk)
    line = one_line(*cli(["convert", clip, "-o", disk / "out.mp4", "--method", "blend", "-q"]), "convert", "full")
    assert "no space left on device" in line.lower()
    assert sorted(os.listdir(disk)) == ["filler"]


def test_a_disk_that_fills_at_the_audio_step_fails_the_conversion(tmp_path, small_disk, monkeypatch):
    clip = make_clip(tmp_path / "in.mp4", frames=30, size="128x96", audio="aac")
    disk = small_disk("1m")
    real = conversion.mux_audio

    def fill_then_mux(*a, **k):
        fill(disk)
        return real(*a, **k)
    monkeypatch.setattr(conversion, "mux_audio", fill_then_mux)
    one_line(*cli(["convert", clip, "-o", disk / "out.mp4", "--method", "blend", "-q"]), "convert", "full")
    assert sorted(os.listdir(disk)) == ["filler"]


def test_a_failed_audio_step_fails_the_conversion_unless_no_audio(tmp_path, monkeypatch):
    clip = make_clip(tmp_path / "in.mp4", frames=3, audio="aac")
    monkeypatch.setattr(ffmpeg.AudioPlan, "args", lambda self: ["-c:a", "no_such_codec"])
    one_line(*cli(["convert", clip, "--method", "blend", "-q"]), "convert", "--no-audio")
    assert sorted(os.listdir(tmp_path)) == ["in.mp4"]
    assert cli(["convert", clip, "--method", "blend", "-q", "--no-audio"])[0] == 0
    assert not has_audio(tmp_path / "in-x2.mp4")


def test_encoder_on_a_full_device_names_it():
    w = ffmpeg.FrameWriter(Path("/dev/full"), 64, 48, 30)
    with pytest.raises(SlomoError, match="(?i)no space left on device"):
        for _ in range(30):
            w.write(np.zeros((48, 64, 3), np.uint8))
        w.close()


def test_prepare_on_a_full_disk_gets_one_line(tmp_path, small_disk):
    vids = source_videos(tmp_path / "vids")
    disk = small_disk("64k")
    fill(disk)
    one_line(*cli(["prepare", vids, disk / "ds", "--clip-length", "3", "--quiet"]), "prepare", "full")
    assert sorted(os.listdir(disk)) == ["filler"]


def test_saving_state_on_a_full_disk_keeps_the_old_state(small_disk):
    disk = small_disk("256k")
    atomic_save({"step": 1}, disk / "state.pt")
    fill(disk)
    with pytest.raises(SlomoError, match="full"):
        atomic_save({"step": 2, "w": torch.zeros(100_000)}, disk / "state.pt")
    assert torch.load(disk / "state.pt", weights_only=True) == {"step": 1}
    assert sorted(os.listdir(disk)) == ["filler", "state.pt"]


# ---- 6. concurrent writers: publish without clobbering ----------------------------------------------
def test_an_output_that_appears_meanwhile_is_kept(tmp_path, monkeypatch):
    clip = make_clip(tmp_path / "in.mp4", frames=4, audio="aac")
    out = tmp_path / "out.mp4"
    real = FrameInterpolator.__call__

    def racing(self, I0, I1):
        if not out.exists():
            out.write_bytes(b"the other run's video")
        return real(self, I0, I1)
    monkeypatch.setattr(FrameInterpolator, "__call__", racing)
    with pytest.raises(InputError, match="appeared"):
        video.convert(clip, out, method="blend", progress=False)
    assert out.read_bytes() == b"the other run's video"
    assert hidden(tmp_path) == []


def test_two_converts_to_one_output_one_wins(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=30, audio="aac")
    out = tmp_path / "out.mp4"
    cmd = [sys.executable, "-m", "slomo", "convert", str(clip), "-o", str(out), "--method", "blend", "-q"]
    procs = [subprocess.Popen(cmd, env=ENV, stderr=subprocess.PIPE, text=True, cwd=REPO) for _ in range(2)]
    results = sorted((p.wait(timeout=300), p.stderr.read()) for p in procs)
    assert [c for c, _ in results] == [0, 2], results
    one_line(*results[1], "convert")
    assert len(stream_times(out)[0]) == 59 and hidden(tmp_path) == []


def test_concurrent_publishers_one_wins(tmp_path):
    script = ("import os, sys, tempfile, time\n"
              "from pathlib import Path\n"
              "from slomo.files import publish\n"
              "folder, me = Path(sys.argv[1]), sys.argv[2]\n"
              "fd, tmp = tempfile.mkstemp(dir=folder, prefix='.w')\n"
              "os.write(fd, me.encode()); os.close(fd)\n"
              "(folder / f'ready{me}').touch()\n"
              "while not (folder / 'go').exists(): time.sleep(0.001)\n"
              "try:\n"
              "    publish(tmp, folder / 'target')\n"
              "    print('won')\n"
              "except FileExistsError:\n"
              "    os.unlink(tmp); print('lost')\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), str(i)], env=ENV,
                              stdout=subprocess.PIPE, text=True) for i in range(4)]
    assert wait_for(lambda: all((tmp_path / f"ready{i}").exists() for i in range(4)))
    (tmp_path / "go").touch()
    said = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert sorted(said) == ["lost", "lost", "lost", "won"]
    assert (tmp_path / "target").read_text() == str(said.index("won"))
    assert hidden(tmp_path) == []


# ---- 7. kill -9 in the middle of a write: the next run cleans up -------------------------------------
def _kill_when(script, ready, timeout=180):
    p = subprocess.Popen([sys.executable, "-c", script], env=ENV, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: p.poll() is not None or ready(), timeout), "the writer never got going"
        assert p.poll() is None, p.communicate()[1][-2000:]
        time.sleep(0.3)
    finally:
        p.kill()
        p.wait()
    time.sleep(0.5)  # ffmpeg children see their input end


def test_kill_9_during_convert_then_the_next_run_cleans_up(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=40, audio="aac")
    out = tmp_path / "out.mp4"
    script = ("import sys, time\n"
              "from slomo.video.interpolator import FrameInterpolator\n"
              "real = FrameInterpolator.__call__\n"
              "def slow(self, a, b):\n"
              "    time.sleep(0.2)\n"
              "    return real(self, a, b)\n"
              "FrameInterpolator.__call__ = slow\n"
              "from slomo.cli import main\n"
              f"main(['convert', {str(clip)!r}, '-o', {str(out)!r}, '--method', 'blend', '-q'])\n")
    _kill_when(script, lambda: hidden(tmp_path))
    assert hidden(tmp_path) and not out.exists()  # what kill -9 leaves
    assert cli(["convert", clip, "-o", out, "--method", "blend", "-q"])[0] == 0
    assert hidden(tmp_path) == [] and len(stream_times(out)[0]) == 79


def test_kill_9_during_a_state_save_keeps_the_old_state_and_the_next_save_cleans_up(tmp_path):
    run = tmp_path / "run"
    atomic_save({"step": 1}, run / "state.pt")
    script = ("import time, torch\n"
              "from slomo.checkpoint import atomic_save\n"
              "def slow(obj, f, *a, **k):\n"
              "    data = b'PK\\x03\\x04 half a state'\n"
              "    if hasattr(f, 'write'): f.write(data); f.flush()\n"
              "    else: open(f, 'wb').write(data)\n"
              "    print('writing', flush=True)\n"
              "    time.sleep(60)\n"
              "torch.save = slow\n"
              f"atomic_save({{'step': 2}}, {str(run / 'state.pt')!r})\n")
    _kill_when(script, lambda: len(os.listdir(run)) > 1)
    assert torch.load(run / "state.pt", weights_only=True) == {"step": 1}
    assert hidden(run)
    atomic_save({"step": 3}, run / "state.pt")
    assert hidden(run) == [] and torch.load(run / "state.pt", weights_only=True) == {"step": 3}


def test_kill_9_during_prepare_then_the_next_run_cleans_up(tmp_path):
    vids = source_videos(tmp_path / "vids")
    ds = tmp_path / "ds"
    script = ("import time, cv2\n"
              "import slomo.data as data\n"
              "real = cv2.imwrite\n"
              "def slow(*a):\n"
              "    ok = real(*a)\n"
              "    time.sleep(60)\n"
              "    return ok\n"
              "cv2.imwrite = slow  # the clip writer's\n"
              f"data.prepare({str(vids)!r}, {str(ds)!r}, clip_length=3, progress=False)\n")
    _kill_when(script, lambda: any((tmp_path / n).is_dir() and any((tmp_path / n).rglob("*.png"))
                                   for n in hidden(tmp_path)))
    assert hidden(tmp_path) and not ds.exists()
    assert cli(["prepare", vids, ds, "--clip-length", "3", "--quiet"])[0] == 0
    assert hidden(tmp_path) == [] and (ds / "manifest.json").is_file()


def test_the_next_run_keeps_the_temporaries_of_a_run_still_writing(tmp_path):
    from slomo import files
    target = tmp_path / "out.bin"
    script = ("import sys, time\n"
              "from slomo.files import atomic_output\n"
              f"with atomic_output({str(target)!r}) as tmp:\n"
              "    tmp.write_bytes(b'half')\n"
              "    print(tmp, flush=True)\n"
              "    time.sleep(60)\n")
    p = subprocess.Popen([sys.executable, "-c", script], env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        tmp = Path(p.stdout.readline().strip())
        assert tmp.exists() and files.sweep(target) == [] and tmp.exists()
    finally:
        p.kill()
        p.wait()
    assert files.sweep(target) == [tmp] and hidden(tmp_path) == []


# ---- 8. tracebacks instead of one line --------------------------------------------------------------
def test_frames_smaller_than_dis_minimum_work(tmp_path):
    check = ("import torch\n"
             "from slomo.flow import dis_flow\n"
             "for h, w in [(5, 7), (1, 1), (8, 40), (16, 128), (40, 3)]:\n"  # OpenCV refuses or crashes on these
             "    F01, F10 = dis_flow(torch.rand(2, 3, h, w), torch.rand(2, 3, h, w))\n"
             "    assert F01.shape == F10.shape == (2, 2, h, w) and torch.isfinite(F01).all()\n"
             "print('ok')\n")
    res = subprocess.run([sys.executable, "-c", check], env=ENV, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "ok", (res.returncode, res.stderr[-1000:])
    clip = make_clip(tmp_path / "tiny.mp4", frames=3, size="10x6", audio=None)
    ckpt = tiny_model(tmp_path / "tiny.pt")
    for method in (["--checkpoint", ckpt], ["--method", "flow"]):
        code, err = cli(["convert", clip, "-q", "--overwrite", *method])
        assert code == 0, err
        assert frames_of(tmp_path / "tiny-x2.mp4").shape == (5, 6, 10, 3)


@pytest.mark.parametrize("key", ["hard_fraction", "hard_prob", "visibility_init", "lr", "lr_min", "grad_clip",
                                 "step_gamma", "seed", "steps", "crop", "augment", "channels_last",
                                 "weights.perceptual", "model.width", "device", "threads", "loader_threads"])
def test_non_numeric_training_values_get_one_line(key):
    one_line(*cli(["train", "data=nowhere", f"{key}=abc"]), "train", key.split(".")[-1])


@pytest.mark.parametrize("argv, match", [
    (["evaluate", "{data}", "--limit", "0"], "--limit"),
    (["evaluate", "{data}", "--limit", "-3"], "--limit"),
    (["evaluate", "{data}", "--worst", "-1"], "--worst"),
    (["prepare", "{data}", "{tmp}/ds", "--stride", "0"], "stride"),
    (["convert", "{clip}", "--fps", "10000000"], "1000000"),
    (["convert", "{clip}", "--fps", "1/100000"], "1/10000"),
    (["convert", "{clip}", "--scale", "1e400"], "--scale"),
    (["convert", "{clip}", "--batch-size", "x"], "--batch-size"),
])
def test_cli_numbers_are_range_checked(tmp_path, argv, match):
    data = tmp_path / "data"
    for k in range(2):
        texture_frames(data / f"s{k}", n=3, seed=k)
    clip = make_clip(tmp_path / "in.mp4", frames=3, audio="aac")
    argv = [a.format(data=data, tmp=tmp_path, clip=clip) for a in argv] + ["-q" if argv[0] != "prepare" else "--quiet"]
    one_line(*cli(argv + (["--method", "blend"] if argv[0] != "prepare" else [])), argv[0], match)


# ---- 9. wrong output with exit 0 --------------------------------------------------------------------
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 1.5, -0.2])
def test_non_finite_or_out_of_range_frames_are_refused(bad):
    from slomo.baselines import Blend
    model = SuperSloMo(**TINY_MODEL)
    I0, I1 = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    I0[0, 1, 5, 7] = bad
    for method in (model, Blend()):
        with pytest.raises(InputError, match="I0"):
            method.interpolate(I0, I1, 0.5)
        with pytest.raises(InputError, match="I1"):
            method.interpolate(I1, I0, 0.5)


def test_frames_within_a_rounding_tolerance_are_accepted():
    model = SuperSloMo(**TINY_MODEL)
    I0 = torch.rand(1, 3, 32, 32)
    I0[0, 0, 0, 0], I0[0, 0, 0, 1] = 1 + 1e-4, -1e-4
    assert model.interpolate(I0, I0, 0.5).shape == (1, 1, 3, 32, 32)


def test_a_checkpoint_with_non_finite_weights_is_refused(tmp_path):
    model = SuperSloMo(width=0.25, flow="dis", padding="border")
    sd = model.state_dict()
    sd["interp.conv3.weight"] = sd["interp.conv3.weight"].clone().index_fill_(0, torch.tensor([1]), math.inf)
    path = write_checkpoint(tmp_path / "bad.pt", model.config, sd)
    with pytest.raises(CheckpointError, match="interp.conv3.weight"):
        SuperSloMo.from_checkpoint(path)
    clip = make_clip(tmp_path / "in.mp4", frames=3, audio=None)
    one_line(*cli(["convert", clip, "--checkpoint", path, "-q"]), "convert", "non-finite")
    assert sorted(os.listdir(tmp_path)) == ["bad.pt", "in.mp4"]


def test_frames_the_container_loses_fail_the_conversion(tmp_path, monkeypatch):
    clip = make_clip(tmp_path / "in.mp4", frames=3, audio=None)
    real, n = ffmpeg.FrameWriter.write, [0]

    def lossy(self, frame):
        n[0] += 1
        if n[0] != 2:
            real(self, frame)
    monkeypatch.setattr(ffmpeg.FrameWriter, "write", lossy)
    one_line(*cli(["convert", clip, "--method", "blend", "-q"]), "convert", "4 of the 5")
    assert sorted(os.listdir(tmp_path)) == ["in.mp4"]


def test_an_input_with_a_tiny_frame_rate_is_probed(tmp_path):
    clip = make_clip(tmp_path / "slow.mp4", frames=3, rate="1/10000", audio=None)
    assert video.probe(clip).fps == Fraction(1, 10000)


def test_a_rotated_video_with_non_square_pixels_keeps_its_aspect(tmp_path):
    sar = make_clip(tmp_path / "sar.mp4", frames=3, audio=None, extra=["-vf", "setsar=2/1"])
    rot = tmp_path / "rot.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-display_rotation:v:0", "90", "-i", str(sar),
                    "-c", "copy", str(rot)], check=True)
    res = video.convert(rot, tmp_path / "out.mp4", method="blend", progress=False)
    head = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(res.output)],
                          capture_output=True, text=True).stderr
    shape = re.search(r"(\d+)x(\d+) \[SAR \d+:\d+ DAR (\d+:\d+)\]", head).group(1, 2, 3)
    assert shape == ("48", "64", "3:8")  # 48 wide, 64 tall, each pixel twice as tall as wide


# ---- 10. silent loss --------------------------------------------------------------------------------
def test_a_truncated_input_warns_about_lost_frames(tmp_path):
    full = make_clip(tmp_path / "full.mp4", frames=100, audio=None, extra=["-movflags", "+faststart"])
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: int(full.stat().st_size * 0.99)])
    code, err = cli(["convert", cut, "--method", "duplicate", "-q"])
    assert code == 0 and "warning" in err and "cut.mp4" in err, err


def test_a_damaged_input_warns(tmp_path):
    full = make_clip(tmp_path / "full.mp4", frames=100, audio=None, extra=["-movflags", "+faststart"])
    data, rnd = bytearray(full.read_bytes()), random.Random(2)
    for _ in range(20):  # some frames in the middle, not all (ffmpeg gives up above 2/3 of them)
        data[rnd.randrange(len(data) // 3, 2 * len(data) // 3)] ^= 0xFF
    (tmp_path / "bad.mp4").write_bytes(bytes(data))
    code, err = cli(["convert", tmp_path / "bad.mp4", "--method", "duplicate", "-q"])
    assert code == 0 and "warning" in err and "bad.mp4" in err, err


def test_dropped_streams_are_named(tmp_path):
    base = make_clip(tmp_path / "base.mp4", frames=4, audio="aac")
    (tmp_path / "subs.srt").write_text("1\n00:00:00,000 --> 00:00:00,100\nhello\n")
    many = tmp_path / "many.mkv"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(base), "-f", "lavfi", "-i",
                    "sine=frequency=220:sample_rate=48000:duration=0.13", "-i", str(tmp_path / "subs.srt"),
                    "-map", "0:v", "-map", "0:a", "-map", "1:a", "-map", "2:s", "-c:v", "copy", "-c:a", "aac",
                    "-c:s", "srt", str(many)], check=True)
    code, err = cli(["convert", many, "--method", "blend", "-q"])
    assert code == 0 and "subtitle" in err and "audio" in err, err
    assert has_audio(tmp_path / "many-x2.mp4")


# ---- 11. properties: any value works or gets one line ----------------------------------------------
class _Reached(Exception):
    """Raised where the work would begin: every check before it passed."""


def _reached(*a, **k):
    raise _Reached


NUMBERS = st.one_of(st.integers(-10 ** 30, 10 ** 30), st.floats(allow_nan=True, allow_infinity=True))
TEXT = st.one_of(NUMBERS.map(str), st.text(max_size=10),
                 st.sampled_from(["", "0", "1", "2", "-1", "1/0", "nan", "inf", "1e400", "30000/1001", "0x10",
                                  "1_000", " 3 ", "4k", "2.0", "640x360", "1x1", "0.8,0.1,0.1", "1,0,0"]))
VALUES = st.one_of(NUMBERS, st.booleans(), st.none(), st.text(max_size=6), st.lists(st.integers(), max_size=2),
                   st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def _train_keys():
    from dataclasses import fields

    from slomo.config import ModelConfig
    keys = [f.name for f in fields(TrainConfig)] + [f"model.{f.name}" for f in fields(ModelConfig)]
    return keys + ["weights.reconstruction", "weights.perceptual", "weights.unknown"]


@PROPERTY
@given(key=st.sampled_from(_train_keys()), value=VALUES)
def test_any_training_value_works_or_gets_one_line(monkeypatch, tmp_path, key, value):
    import slomo.train
    monkeypatch.setattr(slomo.train, "train", _reached)
    try:
        code, err = cli(["train", f"out={tmp_path / 'run'}", "data=somewhere", f"{key}={json.dumps(value)}"])
    except _Reached:
        return
    one_line(code, err, "train")


@PROPERTY
@given(key=st.sampled_from([k for k in _train_keys() if "." not in k]), value=VALUES)
def test_any_config_value_is_checked_on_creation(key, value):
    d = {"data": "somewhere", key: value}
    try:
        cfg = TrainConfig(**d)
    except InputError as e:
        assert "\n" not in str(e)
        return
    hints = typing.get_type_hints(TrainConfig)
    for f, v in cfg.to_dict().items():  # what was accepted has its declared type
        want = hints[f]
        assert isinstance(v, want) and not (isinstance(v, bool) and want is not bool), (f, v)
        assert not isinstance(v, float) or math.isfinite(v), (f, v)


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("prop") / "in.mp4", frames=3, audio="aac")


@PROPERTY
@given(option=st.sampled_from(["--scale", "--fps", "--batch-size", "--workers", "--scene-threshold", "--device",
                               "--precision", "--method"]), value=TEXT)
def test_any_convert_argument_works_or_gets_one_line(monkeypatch, tmp_path, tiny_clip, option, value):
    monkeypatch.setattr(FrameInterpolator, "for_job", _reached)  # where the work begins
    out = tmp_path / f"out{time.monotonic_ns()}.mp4"
    try:
        code, err = cli(["convert", tiny_clip, "-o", out, "--method", "blend", f"{option}={value}", "-q"])
    except _Reached:
        return
    one_line(code, err, "convert")


@PROPERTY
@given(option=st.sampled_from(["--clip-length", "--stride", "--size", "--split", "--seed"]), value=TEXT)
def test_any_prepare_argument_works_or_gets_one_line(tmp_path, option, value):
    src = tmp_path / "src"
    if not src.exists():
        for k in range(3):
            texture_frames(src / f"v{k}", n=5, seed=k)
    out = tmp_path / f"ds{time.monotonic_ns()}"
    code, err = cli(["prepare", src, out, "--clip-length", "3", f"{option}={value}", "--quiet"])
    if code == 0:
        assert (out / "manifest.json").is_file()
    else:
        one_line(code, err, "prepare")
        assert not out.exists()


@PROPERTY
@given(option=st.sampled_from(["--scale", "--limit", "--worst", "--layout", "--method", "--device"]), value=TEXT)
def test_any_evaluate_argument_works_or_gets_one_line(monkeypatch, tmp_path, option, value):
    data = tmp_path / "data"
    if not data.exists():
        for k in range(2):
            texture_frames(data / f"s{k}", n=5, seed=k, H=24, W=32)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / f"r{time.monotonic_ns()}.csv"
    code, err = cli(["evaluate", data, "--method", "blend", "-o", out, f"{option}={value}", "-q"])
    if code != 0:
        one_line(code, err, "evaluate")
