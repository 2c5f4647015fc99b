import json

import cv2
import numpy as np
import pytest
import torch
from conftest import checkpoint_script

from slomo.data.footage import (
    FootageDataset,
    FootageSpec,
    build_footage_cache,
    warp_disagreement,
)
from slomo.errors import InputError
from slomo.synthesis import intermediate_flows
from slomo.warp import backward_warp


def _texture(rng, H, W):
    big = cv2.GaussianBlur(rng.uniform(0, 255, (H, W, 3)).astype(np.float32), (0, 0), 2.0)
    return np.clip((big - big.mean()) / big.std() * 50 + 128, 0, 255).astype(np.uint8)


def _sequence(folder, n=7, size=(72, 96), shift=3, seed=0):
    """Frames whose right part is a texture sliding right by `shift` pixels and down by one a frame,
    and whose left third is a static one: the flow differs across the frame."""
    rng = np.random.default_rng(seed)
    H, W = size
    big, still = _texture(rng, H + n, W + n * shift), _texture(rng, H, W // 3)
    folder.mkdir(parents=True)
    for k in range(n):
        x, y = (n - k) * shift, n - k
        f = big[y:y + H, x:x + W].copy()
        f[:, :W // 3] = still
        cv2.imwrite(str(folder / f"{k:03d}.png"), f[:, :, ::-1])
    return folder


SPEC = FootageSpec(gaps=(2, 4), stride=1, min_side=64)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("footage")
    sources = [_sequence(root / "src" / "a"), _sequence(root / "src" / "b", seed=1), _sequence(root / "src" / "tiny", size=(40, 48))]
    return build_footage_cache(sources, root / "cache", SPEC, progress=False)


@pytest.mark.parametrize("bad", [{"gaps": (1,)}, {"gaps": ()}, {"preset": "best"}, {"stride": 0},
                                 {"mirror": "yes"}, {"min_motion": -1}, {"max_side": 2.5}])
def test_spec_is_validated(bad):
    with pytest.raises(InputError):
        FootageSpec(**bad)


def test_cache_layout(cache):
    manifest = json.loads((cache / "footage.json").read_text())
    entries = {e["name"]: e for e in manifest["sources"]}
    assert entries["a"]["size"] == [72, 96] and entries["a"]["frames"] == 7
    assert sorted(map(tuple, entries["a"]["pairs"])) == sorted([(a, a + 2) for a in range(5)] + [(a, a + 4) for a in range(3)])
    assert "skipped" in entries["tiny"] and not (cache / "tiny").exists()
    flows = np.load(cache / "a" / "flows.npy", mmap_mode="r")
    assert flows.shape == (8, 8, 72, 96) and flows.dtype == np.float16
    F01 = flows[0, 0:2].astype(np.float32)  # the right part moves 6 px over a gap-2 pair, the left third not
    assert abs(float(np.median(F01[0, :, 48:])) - 6.0) < 0.5 and abs(float(np.median(F01[0, :, :24]))) < 0.5
    assert abs(float(np.median(F01[1, :, 48:])) - 2.0) < 0.5
    assert not [p for p in cache.iterdir() if p.name.startswith(".") and p.name != ".footage.json"]


def test_cache_build_resumes_without_recomputing(cache):
    before = (cache / "a" / "flows.npy").stat().st_mtime_ns
    (cache / ".b.killed").mkdir()  # what a build killed while writing source b leaves
    (cache / ".b.killed" / "frames.npy").write_bytes(b"half")
    sources = [cache.parent / "src" / n for n in ("a", "b", "tiny")]
    build_footage_cache(sources, cache, SPEC, progress=False)
    assert (cache / "a" / "flows.npy").stat().st_mtime_ns == before
    assert not (cache / ".b.killed").exists()


def test_samples_have_their_contract_and_are_reproducible(cache):
    ds = FootageDataset(cache, crop=64)
    assert len(ds) == 16  # 8 pairs from each of the two big sources
    a = ds.get(3, torch.Generator().manual_seed(5))
    b = ds.get(3, torch.Generator().manual_seed(5))
    assert a["I0"].shape == (3, 64, 64) and a["It"].shape == (1, 3, 64, 64) and a["flows"].shape == (4, 64, 64)
    assert float(a["t"][0]) in (0.25, 0.5, 0.75)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert 0 <= float(a["I0"].min()) and float(a["I0"].max()) <= 1


def test_flow_follows_flips_and_time_reversal(tmp_path):
    """Whatever the augmentation, F01 warps I1 back onto I0 (a left-right flip takes the mirrored
    pair's own flow at the mirrored place)."""
    src = _sequence(tmp_path / "wide", n=5, size=(64, 192), shift=3)
    cache = build_footage_cache([src], tmp_path / "c", FootageSpec(gaps=(2,), stride=1, min_side=64), progress=False)
    ds = FootageDataset(cache, crop=64)
    g = torch.Generator().manual_seed(0)
    good = []
    for i in range(16):
        s = ds.get(i % len(ds), g)
        back = backward_warp(s["I1"][None], s["flows"][None, :2], "border")[0]
        inner = (slice(None), slice(8, -8), slice(8, -8))
        good.append(float(((back - s["I0"])[inner].abs().amax(0) < 0.02).float().mean()))
    assert min(good) > 0.8, good


def test_hard_crops_favour_disagreeing_warps(tmp_path):
    # a static background with one moving square: only crops near the square have disagreeing warps
    rng = np.random.default_rng(0)
    bg = cv2.GaussianBlur(rng.uniform(0, 255, (64, 256, 3)).astype(np.float32), (0, 0), 2).astype(np.uint8)
    fg = cv2.GaussianBlur(rng.uniform(0, 255, (24, 24, 3)).astype(np.float32), (0, 0), 2).astype(np.uint8)
    d = tmp_path / "square"
    d.mkdir()
    for k in range(5):
        f = bg.copy()
        f[20:44, 20 + 4 * k:44 + 4 * k] = fg
        cv2.imwrite(str(d / f"{k}.png"), f[:, :, ::-1])
    cache = build_footage_cache([d], tmp_path / "c", FootageSpec(gaps=(2,), stride=1, min_side=32, mirror=False, min_motion=0),
                                progress=False)

    def mean_score(ds):
        g = torch.Generator().manual_seed(1)
        items = [ds.get(i % len(ds), g) for i in range(24)]
        return np.mean([float(warp_disagreement(s["I0"], s["I1"], s["flows"], float(s["t"][0]))) for s in items])
    plain = FootageDataset(cache, crop=32, augment=False)
    hard = FootageDataset(cache, crop=32, augment=False, hard_crops=8, hard_prob=1.0)
    assert mean_score(hard) > 2 * mean_score(plain)


def test_refuses_what_it_cannot_use(cache, tmp_path):
    with pytest.raises(InputError, match="not a footage cache"):
        FootageDataset(tmp_path)
    with pytest.raises(InputError, match="'fine' flow"):
        FootageDataset(cache, crop=64, preset="medium")
    with pytest.raises(InputError, match="at least 128"):
        FootageDataset(cache, crop=128)


def test_teacher_flow_warps_the_inputs_onto_the_true_frame_whatever_the_augmentation(tmp_path):
    """With `teacher`, every sample's teacher Ft0 and Ft1 warp I0 and I1 onto It where they are
    trusted, after flips and time reversal alike; collate stacks them as (B,T,...)."""
    from slomo.data import collate
    src = _sequence(tmp_path / "wide", n=5, size=(64, 192), shift=3)
    cache = build_footage_cache([src], tmp_path / "c", FootageSpec(gaps=(2,), stride=1, min_side=64), progress=False)
    ds = FootageDataset(cache, crop=64, teacher=True)
    g = torch.Generator().manual_seed(0)
    items = [ds.get(i % len(ds), g) for i in range(8)]
    inner = (slice(None), slice(8, -8), slice(8, -8))
    for s in items:
        assert s["teacher"].shape == (1, 4, 64, 64) and s["teacher_ok"].shape == (1, 2, 64, 64)
        assert s["teacher_ok"].float().mean() > 0.8
        for k, I in enumerate((s["I0"], s["I1"])):
            warped = backward_warp(I[None], s["teacher"][:, 2 * k:2 * k + 2], "border")[0]
            assert float(((warped - s["It"][0])[inner].abs().amax(0) < 0.03).float().mean()) > 0.8
    batch = collate(items)
    assert batch["teacher"].shape == (8, 1, 4, 64, 64) and batch["teacher_ok"].dtype == torch.bool
    assert "teacher" not in collate([FootageDataset(cache, crop=64).get(0, g)])


def test_teacher_gap_script_reports_both_comparisons(cache, capsys):
    checkpoint_script("teacher_gap").main([str(cache), "--samples", "2", "--crop", "64"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["front end against the teacher", "teacher medium against fine"]
    assert all("px" in line and "% of pixels over 2 px" in line for line in lines)


def test_crop_separation_scores_a_map_that_knows_the_closer_warp_near_one(cache):
    mod = checkpoint_script("crop_separation")
    ds, g = FootageDataset(cache, crop=64, augment=False), torch.Generator().manual_seed(0)
    samples = [ds.get(i % len(ds), g) for i in range(6)]

    def knowing(sign):
        def model(I0, I1, t, flows):
            Ft0, Ft1 = intermediate_flows(flows[0], flows[1], t.view(-1, 1, 1, 1))
            g0, g1 = backward_warp(I0, Ft0, "border"), backward_warp(I1, Ft1, "border")
            It = next(s["It"] for s in samples if s["I0"].equal(I0[0]))
            closer0 = ((g0 - It).abs().mean(1, keepdim=True) < (g1 - It).abs().mean(1, keepdim=True)).float()
            V = closer0 if sign > 0 else 1 - closer0
            return {"Vt0": V[:, None], "g0_refined": g0[:, None], "g1_refined": g1[:, None]}
        return model

    right, n = mod.crop_separation(knowing(+1), samples)
    wrong, _ = mod.crop_separation(knowing(-1), samples)
    assert n > 0 and right > 0.99 and wrong < -0.99


def test_crop_separation_script_runs_checkpoints_on_the_same_crops(cache, tmp_path, capsys):
    from slomo.model import SuperSloMo
    path = SuperSloMo(width=0.125, flow="dis").save(tmp_path / "tiny.pt", step=3)
    checkpoint_script("crop_separation").main([str(cache), str(path), str(path), "--samples", "3", "--crop", "64"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0] == lines[1] and "(step 3): separation" in lines[0]


def test_overfit_probe_trains_only_on_its_fixed_crops(cache, capsys):
    mod = checkpoint_script("overfit_probe")
    from slomo.train.config import load_config
    from slomo.train.trainer import Trainer
    cfg = load_config(mod.REPO / "configs" / "dis-footage.toml",
                      [f"data={cache}", "val=", "out=" + str(cache.parent / "probe"), "crop=64", "batch_size=4",
                       "model.width=0.125", "loader_threads=0", "warmup=0", "lr=3e-3", "steps=40", "threads=1"])
    trainer = Trainer(cfg)
    try:
        rows = mod.probe(trainer, crops=8, steps=40, every=20)
        batches, _ = mod.fixed_batches(trainer, 8, 321)
        assert all(torch.equal(trainer.batch(s)["It"], batches[s % 2]["It"]) for s in range(4))
    finally:
        trainer.close()
    assert [r[0] for r in rows] == [20, 40]
    assert rows[1][1] < rows[0][1]  # the training L1 on the same crops falls
    assert capsys.readouterr().out.count("separation: fixed crops") == 2
