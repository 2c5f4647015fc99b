"""Data preparation, datasets, augmentation and triplet loading on tiny synthetic footage."""
import json

import cv2
import numpy as np
import pytest
import torch

from slomo.data import (
    CacheSpec,
    ClipDataset,
    FlowCache,
    augment,
    build_flow_cache,
    find_sources,
    prepare,
    sequence_triplets,
    split_sources,
)
from slomo.errors import InputError
from slomo.warp import backward_warp


def texture(seed, H=48, W=64):
    r = np.random.default_rng(seed)
    small = (r.random((H // 4, W // 4 + 16, 3)) * 255).astype(np.uint8)
    return cv2.resize(small, ((W // 4 + 16) * 4, H), interpolation=cv2.INTER_LINEAR)


def write_sequence(folder, n, seed, speed=2, cut_at=None, static=False):
    folder.mkdir(parents=True)
    tex = texture(seed)
    other = tex // 4  # a darker scene: a clear histogram change
    for i in range(n):
        src = other if cut_at is not None and i >= cut_at else tex
        x = 0 if static else i * speed
        frame = src[:, x % 40:x % 40 + 64]
        cv2.imwrite(str(folder / f"{i:05d}.png"), frame[:, :, ::-1])


def test_prepare_counts_and_split_without_leaks(tmp_path):
    src = tmp_path / "src"
    for k in range(5):
        write_sequence(src / f"video{k}", 20, seed=k, speed=1)
    res = prepare(src, tmp_path / "ds", clip_length=5, split=(0.6, 0.2, 0.2), seed=3, progress=False)
    assert sum(res.clips.values()) == 5 * 4  # 20 frames -> 4 clips of 5 per video
    assert res.clips == {"train": 12, "val": 4, "test": 4}
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    by_split = {}
    for clip, info in manifest["clips"].items():
        by_split.setdefault(clip.split("/")[0], set()).add(info["source"])
        assert len(list((tmp_path / "ds" / clip).iterdir())) == 5
    assert set(by_split) == {"train", "val", "test"}
    assert not (by_split["train"] & by_split["val"] or by_split["train"] & by_split["test"]
                or by_split["val"] & by_split["test"])
    # same seed, same split; the input is untouched
    again = prepare(src, tmp_path / "ds2", clip_length=5, split=(0.6, 0.2, 0.2), seed=3, progress=False)
    assert again.sources == res.sources
    assert len(list((src / "video0").iterdir())) == 20


def test_prepare_skips_scene_cuts_and_static_clips(tmp_path):
    src = tmp_path / "src"
    write_sequence(src / "cut", 10, seed=1, cut_at=7)  # clip 0-4 fine, clip 5-9 crosses the cut
    write_sequence(src / "still", 10, seed=2, static=True)
    res = prepare(src, tmp_path / "ds", clip_length=5, split=(1, 0, 0), progress=False)
    assert res.clips["train"] == 1
    assert res.skipped["scene_cut"] == 1 and res.skipped["static"] == 2


def test_prepare_stride_and_video_input(tmp_path):
    path = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    tex = texture(0)
    for i in range(12):
        w.write(np.ascontiguousarray(tex[:, i * 2:i * 2 + 64, ::-1]))
    w.release()
    res = prepare(path, tmp_path / "ds", clip_length=4, stride=2, split=(1, 0, 0), progress=False)
    assert res.clips["train"] == 5  # starts 0, 2, 4, 6, 8


def test_reference_lists_decide_the_split(tmp_path):
    src = tmp_path / "src"
    for name in ("a", "b", "c"):
        write_sequence(src / name, 6, seed=ord(name))
    (tmp_path / "train.txt").write_text("a.mp4\nb.mp4\n")
    (tmp_path / "test.txt").write_text("c.mp4\n")
    res = prepare(src, tmp_path / "ds", clip_length=3, train_list=tmp_path / "train.txt",
                  test_list=tmp_path / "test.txt", progress=False)
    assert res.sources == {"a": "train", "b": "train", "c": "test"}


def test_split_sources_is_seeded_partition():
    names = [f"v{i}" for i in range(10)]
    a = split_sources(names, (0.8, 0.1, 0.1), seed=0)
    assert a == split_sources(list(reversed(names)), (0.8, 0.1, 0.1), seed=0)
    assert sorted(a) == sorted(names)
    assert sorted(a.values()).count("val") == 1 and sorted(a.values()).count("test") == 1


def test_bad_inputs_give_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no videos or image sequences"):
        prepare(tmp_path / "empty", tmp_path / "out", progress=False)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "00000.png").write_bytes(b"not an image")
    with pytest.raises(InputError, match="cannot read image"):
        prepare(bad, tmp_path / "out", clip_length=3, progress=False)
    write_sequence(tmp_path / "short" / "s", 4, seed=0)
    with pytest.raises(InputError, match="no clips of 12 frames"):
        prepare(tmp_path / "short", tmp_path / "out", clip_length=12, progress=False)
    with pytest.raises(InputError, match="not found"):
        prepare(tmp_path / "missing", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_clip_dataset_items(tmp_path):
    src = tmp_path / "src"
    write_sequence(src / "v", 12, seed=0)
    prepare(src, tmp_path / "ds", clip_length=6, split=(1, 0, 0), progress=False)
    ds = ClipDataset(tmp_path / "ds" / "train", crop=(32, 32), span=4, targets=3)
    assert len(ds) == 2
    item = ds.get(0, torch.Generator().manual_seed(0))
    assert item["I0"].shape == (3, 32, 32) and item["It"].shape == (3, 3, 32, 32)
    assert torch.allclose(torch.sort(item["t"]).values, torch.tensor([0.25, 0.5, 0.75])) or \
        torch.allclose(torch.sort(1 - item["t"]).values, torch.tensor([0.25, 0.5, 0.75]))
    again = ds.get(0, torch.Generator().manual_seed(0))
    assert all(torch.equal(item[k], again[k]) for k in ("I0", "I1", "It", "t"))
    with pytest.raises(InputError, match="span"):
        ClipDataset(tmp_path / "ds" / "train", span=9)


@pytest.mark.parametrize("seed", range(6))
def test_augment_keeps_flow_consistent(seed):
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 3, 24, 40, generator=torch.Generator().manual_seed(1))
    I0, I1 = base[0, :, 4:20, 4:36], base[0, :, 4:20, 1:33]  # I0(x) = I1(x + 3): F01 = (3, 0)
    flows = torch.zeros(4, 16, 32)
    flows[0], flows[2] = 3, -3
    It = base[None, 0, :, 4:20, 3:35]
    a0, a1, _, t, f = augment(I0, I1, It, torch.tensor([0.5]), g, flows=flows)
    warped = backward_warp(a1[None], f[None, :2])[0]
    assert torch.allclose(warped[:, 4:-4, 4:-4], a0[:, 4:-4, 4:-4], atol=1e-5)
    warped = backward_warp(a0[None], f[None, 2:])[0]
    assert torch.allclose(warped[:, 4:-4, 4:-4], a1[:, 4:-4, 4:-4], atol=1e-5)


def test_sequence_triplets_and_flow_cache(tmp_path):
    write_sequence(tmp_path / "seq", 8, seed=0, speed=2)
    trips = sequence_triplets(tmp_path / "seq", gap=2)
    assert len(trips) == 4
    spec = CacheSpec(crop=32, per_source=4, crops_per_pair=1, min_motion=0.5,
                     kinds=((0, 1, 2, 1.0),), preset="ultrafast")
    path = build_flow_cache(find_sources(tmp_path), tmp_path / "cache.npz", spec, progress=False)
    cache = FlowCache(path, crop=(32, 32), augment=False, preset="ultrafast")
    assert len(cache) == 4
    item = cache.get(0, torch.Generator().manual_seed(0))
    assert item["flows"].shape == (4, 32, 32) and float(item["t"]) == 0.5
    # the texture moves left by 2 px per frame: I0(x) = I1(x - 4) -> F01 ~ -4 in the interior
    assert abs(float(item["flows"][0, 8:-8, 8:-8].median()) + 4) < 1.0
    with pytest.raises(InputError, match="medium"):
        FlowCache(path, preset="medium")
    err = cache.flow_errors()
    hard = FlowCache(path, crop=(32, 32), hard_fraction=0.5)
    assert len(hard) == 2 and set(hard.index.tolist()) == set(torch.argsort(err)[2:].tolist())


def test_prefetcher_returns_what_make_returns_in_any_order():
    import threading

    from slomo.data import Prefetcher
    threads = set()

    def make(step):
        threads.add(threading.current_thread().name)
        return {"step": step, "x": int(torch.randint(0, 10**9, (1,), generator=torch.Generator().manual_seed(step)))}
    p = Prefetcher(make, threads=2)
    try:
        for step in [0, 1, 2, 7, 8, 3, 3, 20]:  # in order, a jump ahead, back (a resume), a repeat
            assert p.get(step) == make(step)
        assert any(name.startswith("slomo-batch") for name in threads)
        assert all(s >= 20 for s in p.pending)  # nothing queued for steps left behind
    finally:
        p.close()
    assert not p.pending
