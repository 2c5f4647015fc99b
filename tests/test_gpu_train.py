"""checkpoints/gpu_train.py at tiny scale on the CPU: pack, train on device-made batches, split, join, load."""
import json

import cv2
import numpy as np
import pytest
import torch
from conftest import checkpoint_script


@pytest.fixture(scope="module")
def gpu_train():
    return checkpoint_script("gpu_train")


def _clip(folder, n=10, size=(72, 100), seed=0):
    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.uniform(0, 255, (size[0], size[1] + 3 * n, 3)).astype(np.float32), (0, 0), 2)
    folder.mkdir(parents=True)
    for k in range(n):
        cv2.imwrite(str(folder / f"{k:02d}.png"), big[:, 3 * k:3 * k + size[1]].astype(np.uint8))
    return folder


def test_pack_respects_its_size_cap(gpu_train, tmp_path):
    srcs = [_clip(tmp_path / f"s{i}", seed=i) for i in range(3)]
    meta = gpu_train.pack(srcs, tmp_path / "pack", max_side=64, max_mib=0.03)
    files = list((tmp_path / "pack").rglob("*.jpg"))
    assert sum(f.stat().st_size for f in files) == meta["bytes"] <= 0.03 * 2 ** 20
    assert all(max(cv2.imread(str(f)).shape[:2]) <= 64 for f in files)
    assert sum(meta["sequences"].values()) == len(files)


def test_batches_are_made_on_the_device_with_their_contract(gpu_train, tmp_path):
    gpu_train.pack([_clip(tmp_path / "s")], tmp_path / "pack", max_side=100, max_mib=5)
    seqs = gpu_train.load_pack(tmp_path / "pack", "cpu")
    b = gpu_train.make_batch(seqs, 3, 64, (2, 4, 8), torch.Generator().manual_seed(0))
    assert b["I0"].shape == (3, 3, 64, 64) and b["It"].shape == (3, 1, 3, 64, 64) and b["t"].shape == (3, 1)
    assert all(float(t) in (0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875) for t in b["t"].flatten())
    assert 0 <= float(b["I0"].min()) and float(b["I1"].max()) <= 1


def test_train_writes_a_loadable_split_checkpoint(gpu_train, tmp_path, monkeypatch):
    gpu_train.pack([_clip(tmp_path / "s")], tmp_path / "pack", max_side=100, max_mib=5)
    monkeypatch.setattr(gpu_train, "PART_BYTES", 100_000)
    out = tmp_path / "out"
    gpu_train.main(["train", str(tmp_path / "pack"), str(out), "--device", "cpu", "--precision", "fp32",
                    "--max-steps", "3", "--width", "0.125", "--batch", "2", "--crop", "64", "--log-every", "1"])
    log = json.loads((out / "train_log.json").read_text())
    assert log["steps"] == 3 and len(log["log"]) == 3 and log["samples_per_s"] > 0
    parts = sorted(out.glob("slomo-unet-gpu.pt.part*"))
    assert len(parts) >= 2 and all(p.stat().st_size <= 100_000 for p in parts)
    whole = gpu_train.join(out / "slomo-unet-gpu.pt.part0", tmp_path / "joined.pt")
    from slomo import SuperSloMo
    model = SuperSloMo.from_checkpoint(whole, device="cpu")
    assert model.config.flow == "unet" and model.config.width == 0.125
    frames = model.interpolate(torch.rand(1, 3, 40, 56), torch.rand(1, 3, 40, 56), 0.5)
    assert frames.shape == (1, 1, 3, 40, 56) and torch.isfinite(frames).all()
