"""slomo.data.datasets: clip datasets, frame-skipped triplets and batches made ahead of time."""
import pytest
import torch
from _frames import write_sequence

from slomo.data import ClipDataset, prepare
from slomo.errors import InputError


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
