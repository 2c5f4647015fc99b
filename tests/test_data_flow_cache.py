"""slomo.data.flow_cache: crops with their DIS flow, built once and read as training samples."""
import pytest
import torch
from _frames import write_sequence

from slomo.data import (
    CacheSpec,
    FlowCache,
    build_flow_cache,
    find_sources,
    sequence_triplets,
)
from slomo.errors import InputError


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
