"""Training: config handling, a short run that learns, exact resume after Ctrl-C, DDP on gloo, fine-tuning."""
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from slomo.checkpoint import write_reference_checkpoint
from slomo.cli import main
from slomo.data import prepare
from slomo.errors import InputError, SlomoError
from slomo.model import SuperSloMo
from slomo.train import TrainConfig, Trainer, load_config, lr_factor, train

REPO = Path(__file__).resolve().parent.parent
TINY_MODEL = {"width": 0.125, "flow": "unet", "padding": "border", "leaky_head": False}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """A prepared data set: 3 short sequences of textures panning at 2 px per frame."""
    root = tmp_path_factory.mktemp("clips")
    r = np.random.default_rng(0)
    for k in range(3):
        small = (r.random((12, 40, 3)) * 255).astype(np.uint8)
        tex = cv2.resize(small, (160, 48), interpolation=cv2.INTER_LINEAR)
        folder = root / "src" / f"v{k}"
        folder.mkdir(parents=True)
        for i in range(10):
            x = 2 * i
            cv2.imwrite(str(folder / f"{i:03d}.png"), np.ascontiguousarray(tex[:, x:x + 64, ::-1]))
    prepare(root / "src", root / "ds", clip_length=5, split=(1, 0, 0), progress=False)
    # a validation triplet set in the UCF101 layout
    val = root / "val" / "1"
    val.mkdir(parents=True)
    for n, i in (("frame0", 0), ("frame1", 1), ("frame2", 2)):
        cv2.imwrite(str(val / f"{n}.png"), np.ascontiguousarray(tex[:, 2 * i:2 * i + 64, ::-1]))
    return root


def tiny(clips, tmp_path, **kw):
    d = dict(data=str(clips / "ds"), out=str(tmp_path / "run"), model=dict(TINY_MODEL), steps=6,
             batch_size=2, crop=32, span=2, lr=2e-3, warmup=0, augment=False, threads=1, log_every=2, val_every=0, ckpt_every=3,
             progress=False, weights={"reconstruction": 1.0, "warping": 0.5, "smoothness": 0.01})
    d.update(kw)
    return TrainConfig(**d)


def test_config_file_overrides_and_errors(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('data = "x"\nsteps = 10\n[model]\nwidth = 0.25\n[weights]\nperceptual = 0\nreconstruction = 1\n')
    cfg = load_config(path, ["model.flow=dis", "steps=20", "channels_last=false", "lr=3e-4"])
    assert cfg.steps == 20 and cfg.model_config.flow == "dis" and cfg.model_config.width == 0.25
    assert cfg.channels_last is False and cfg.lr == 3e-4 and cfg.weights["perceptual"] == 0
    assert cfg.weights["warping"] == 0  # a weights table lists every term it wants
    with pytest.raises(InputError, match="unknown config keys: colour"):
        load_config(path, ["colour=red"])
    path.write_text('data = "x"\nbatch = 3\n')
    with pytest.raises(InputError, match="unknown config keys: batch"):
        load_config(path)
    with pytest.raises(InputError, match="unknown model config keys"):
        load_config(None, ["data=x", "model.depth=3"])
    with pytest.raises(InputError, match="batch_size"):
        load_config(None, ["data=x", "batch_size=0"])
    with pytest.raises(InputError, match="unknown loss weights"):
        load_config(None, ["data=x", "weights.style=1"])
    with pytest.raises(InputError, match="crop"):
        load_config(None, ["data=x", "crop=100"])


def test_shipped_configs_are_valid():
    for path in sorted((REPO / "configs").glob("*.toml")):
        assert load_config(path).steps > 0


def test_lr_schedule_warms_up_and_decays():
    cfg = TrainConfig(data="x", steps=100, warmup=10, lr=1e-3, lr_min=1e-5)
    f = [lr_factor(s, cfg) for s in range(101)]
    assert f[0] == pytest.approx(0.1) and f[9] > 0.97 and f[4] < 0.5
    assert all(a >= b for a, b in zip(f[10:], f[11:]))
    assert f[100] == pytest.approx(1e-2)


def test_short_run_lowers_loss_and_writes_loadable_checkpoint(clips, tmp_path):
    cfg = tiny(clips, tmp_path, steps=40, val=str(clips / "val"), val_every=20, image_every=20)
    trainer = Trainer(cfg)  # without augmentation the motion is the same everywhere: quick to learn
    fixed = trainer.batch(10_000)
    before = trainer.batch_loss(fixed)
    for _ in range(40):
        loss, m = trainer.step()
        assert np.isfinite(loss) and {"loss", "psnr", "reconstruction", "warping", "lr"} <= set(m)
    assert trainer.batch_loss(fixed) < 0.8 * before
    best = train(cfg)
    assert best.name == "best.pt" and best.is_file()
    model = SuperSloMo.from_checkpoint(best)
    assert model.config.width == 0.125 and "psnr" in model.metadata["val"]
    last = SuperSloMo.from_checkpoint(tmp_path / "run" / "last.pt")
    assert last.metadata["step"] == 40
    assert json.loads((tmp_path / "run" / "config.json").read_text())["steps"] == 40
    assert list((tmp_path / "run").glob("events.out.tfevents.*"))
    frames = model.interpolate(torch.rand(1, 3, 40, 50), torch.rand(1, 3, 40, 50), [0.5])
    assert frames.shape == (1, 1, 3, 40, 50)


def _collect_losses(monkeypatch, interrupt_at=None):
    losses = {}
    original = Trainer.step

    def step(self):
        if interrupt_at is not None and self.step_no == interrupt_at:
            raise KeyboardInterrupt
        loss, m = original(self)
        losses[self.step_no] = loss
        return loss, m
    monkeypatch.setattr(Trainer, "step", step)
    return losses


def test_ctrl_c_saves_and_resume_is_exact(clips, tmp_path, monkeypatch):
    ref = _collect_losses(monkeypatch)
    train(tiny(clips, tmp_path / "a"))
    monkeypatch.undo()
    _collect_losses(monkeypatch, interrupt_at=4)
    with pytest.raises(KeyboardInterrupt):
        train(tiny(clips, tmp_path / "b"))
    state = torch.load(tmp_path / "b" / "run" / "state.pt", weights_only=True)
    assert state["step"] == 4
    monkeypatch.undo()
    resumed = _collect_losses(monkeypatch)
    train(tiny(clips, tmp_path / "b"))
    assert sorted(resumed) == [5, 6]
    assert resumed[5] == pytest.approx(ref[5], rel=1e-4) and resumed[6] == pytest.approx(ref[6], rel=1e-4)
    a = SuperSloMo.from_checkpoint(tmp_path / "a" / "run" / "last.pt").state_dict()
    b = SuperSloMo.from_checkpoint(tmp_path / "b" / "run" / "last.pt").state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_resume_refuses_a_different_run(clips, tmp_path):
    train(tiny(clips, tmp_path, steps=2))
    with pytest.raises(InputError, match="different config"):
        train(tiny(clips, tmp_path, steps=4, lr=5e-4))


def test_fine_tune_from_reference_checkpoint(clips, tmp_path):
    src = SuperSloMo(**TINY_MODEL)
    ref = write_reference_checkpoint(tmp_path / "SuperSloMo.ckpt", src.flow.state_dict(), src.interp.state_dict())
    trainer = Trainer(tiny(clips, tmp_path, init=str(ref)))
    got, want = trainer.model.state_dict(), src.state_dict()
    assert all(torch.equal(got[k], want[k]) for k in want)
    flow_only = Trainer(tiny(clips, tmp_path, init=str(ref), init_flow_only=True, zero_head=True)).model
    assert torch.equal(flow_only.flow.conv1.weight, src.flow.conv1.weight)
    assert not torch.equal(flow_only.interp.conv1.weight, src.interp.conv1.weight)
    assert not flow_only.interp.conv3.weight.detach().any()
    with pytest.raises(SlomoError, match="not found"):
        Trainer(tiny(clips, tmp_path, init=str(tmp_path / "missing.ckpt")))


def test_ddp_two_processes_on_gloo(clips, tmp_path):
    cfg = tiny(clips, tmp_path, steps=3, ckpt_every=0)
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg.to_dict()))
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "slomo", "train", str(path)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    last = SuperSloMo.from_checkpoint(tmp_path / "run" / "last.pt")
    assert last.metadata["step"] == 3 and last.metadata["world_size"] == 2


def test_cli_train_and_prepare_errors(clips, tmp_path, capsys):
    cfg = tiny(clips, tmp_path, steps=2)
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg.to_dict()))
    assert main(["train", str(path), "steps=1"]) == 0
    assert "best checkpoint" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert main(["prepare", str(tmp_path / "empty"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no videos or image sequences" in err[0]
    assert main(["train", "data=x", "colour=red"]) == 2
    assert "unknown config keys: colour" in capsys.readouterr().err


def test_flow_warmup_regresses_the_flow_network_onto_dis(clips, tmp_path):
    from slomo.data import CacheSpec, build_flow_cache, find_sources
    from slomo.losses import flow_regression_loss
    spec = CacheSpec(crop=32, per_source=6, crops_per_pair=1, min_motion=0.5, kinds=((0, 1, 2, 1.0),),
                     preset="ultrafast")
    cache = build_flow_cache(find_sources(clips / "src"), tmp_path / "cache.npz", spec, progress=False)
    cfg = tiny(clips, tmp_path, data=str(cache), crop=32, span=0, steps=151, flow_warmup=150, lr=3e-3)
    trainer = Trainer(cfg)
    interp_before = trainer.model.interp.conv1.weight.detach().clone()
    b = trainer.batch(10_000)

    def epe():
        with torch.no_grad():
            F01, F10 = trainer.model.flows(b["I0"], b["I1"])
            return float(flow_regression_loss(F01, F10, b["flows"][:, :2], b["flows"][:, 2:]))
    before = epe()
    for _ in range(150):
        _, m = trainer.step()
        assert "flow_regression" in m and "psnr" not in m
    # the textures pan by 2 px per frame, so predicting zero flow would leave an EPE of about 2 px
    assert epe() < 0.5 * before and epe() < 1.0
    assert torch.equal(trainer.model.interp.conv1.weight, interp_before)  # only the flow network learned
    _, m = trainer.step()  # then end to end, with the model's own flow
    assert {"psnr", "reconstruction", "warping"} <= set(m)
    assert not torch.equal(trainer.model.interp.conv1.weight, interp_before)
    with pytest.raises(InputError, match="flow_warmup needs"):
        Trainer(tiny(clips, tmp_path, flow_warmup=5))  # prepared clips carry no DIS flow
    with pytest.raises(InputError, match="flow_warmup needs"):
        Trainer(tiny(clips, tmp_path, data=str(cache), crop=32, flow_warmup=5,
                     model={**TINY_MODEL, "flow": "dis", "dis_preset": "ultrafast"}))


def test_loader_threads_give_the_same_batches_and_losses(clips, tmp_path):
    runs = {}
    for n in (0, 2):
        trainer = Trainer(tiny(clips, tmp_path / f"t{n}", loader_threads=n, augment=True))
        try:
            assert (trainer.prefetch is None) == (n == 0)
            runs[n] = [trainer.step()[0] for _ in range(4)]
        finally:
            trainer.close()
    assert runs[2] == pytest.approx(runs[0], rel=1e-6)
    assert Trainer(tiny(clips, tmp_path / "auto")).prefetch is None  # auto: none on a CPU
    for bad in (-2, True, 1.5):
        with pytest.raises(InputError, match="loader_threads"):
            tiny(clips, tmp_path, loader_threads=bad)


def test_a_run_from_before_a_new_loss_term_resumes(clips, tmp_path):
    train(tiny(clips, tmp_path, steps=2))
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    del saved["weights"]["distillation"]  # the run's config.json as written before the term existed
    (tmp_path / "run" / "config.json").write_text(json.dumps(saved))
    train(tiny(clips, tmp_path, steps=4))
    assert torch.load(tmp_path / "run" / "state.pt", weights_only=True)["step"] == 4


def test_distillation_needs_footage(clips, tmp_path):
    w = {"reconstruction": 1.0, "distillation": 0.1}
    with pytest.raises(InputError, match="footage cache"):
        Trainer(tiny(clips, tmp_path, weights=w))
