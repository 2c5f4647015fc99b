"""Training data: frames read from files and videos, `prepare` (videos or frame folders -> fixed-length
clips), the datasets that read them, and two caches of precomputed DIS flow.

frames (reading frames), prepare (the clip dataset), augmentation (crops, flips, time reversal),
datasets (clips, batches, `open_dataset`), flow_cache (crops with flow, `.npz`) and footage (whole
frames with flow, a folder).
"""
from .augmentation import augment
from .datasets import ClipDataset, Prefetcher, collate, open_dataset, sequence_triplets
from .flow_cache import CacheSpec, FlowCache, build_flow_cache
from .footage import FootageDataset, FootageSpec, build_footage_cache
from .frames import find_sources, iter_frames, read_rgb_u8, to_chw
from .prepare import PrepareResult, prepare, split_sources

__all__ = ["prepare", "PrepareResult", "split_sources", "augment", "open_dataset", "ClipDataset", "collate", "Prefetcher",
           "sequence_triplets", "CacheSpec", "FlowCache", "build_flow_cache", "FootageSpec", "FootageDataset",
           "build_footage_cache", "find_sources", "iter_frames", "read_rgb_u8", "to_chw"]
