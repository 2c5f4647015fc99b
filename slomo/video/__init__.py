"""Video: slow motion and frame-rate conversion of video files, and reading their frames.

    convert(input, ...) -> ConvertResult      # slomo.video.convert
    probe(path) -> VideoInfo; read_frames(path) -> (H,W,3) uint8 RGB frames

ffmpeg (decoding, encoding, probing), scenes (the scene-cut detector), interpolator (a video's
in-between frames), helpers (helper processes), schedule (which process makes which window),
threads (the pipes' threads), conversion (`convert`, the orchestrator) and preview (copies
that every browser plays, for notebooks).
"""
from ..methods import METHODS
from .conversion import ConvertOptions, ConvertResult, convert
from .ffmpeg import VideoInfo, probe, read_frames
from .interpolator import FrameInterpolator, PairJob
from .preview import browser_video, trim_video

__all__ = ["convert", "ConvertOptions", "ConvertResult", "probe", "read_frames", "VideoInfo",
           "FrameInterpolator", "PairJob", "METHODS", "browser_video", "trim_video"]
