"""slomo.data.prepare: clips cut from videos and frame folders, split by source, cuts and still clips skipped."""
import json

import cv2
import numpy as np
import pytest
from _frames import texture, write_sequence

from slomo.data import (
    prepare,
    split_sources,
)
from slomo.errors import InputError


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


