"""Model configuration: a small dataclass, validated on creation, stored in checkpoints.
`check_fields` is the one type check of every config dataclass (this one and `train.TrainConfig`)."""
import math
import typing
from dataclasses import asdict, dataclass, fields

from .errors import InputError
from .flow import DIS_PRESETS

FLOW_FRONT_ENDS = ("unet", "dis")
PADDINGS = ("zeros", "border")
DIS_PRESET_NAMES = tuple(DIS_PRESETS)  # ultrafast, fast, medium, fine: the presets `dis_flow` knows
_KINDS = {bool: "true or false", int: "a whole number", float: "a finite number", str: "a string",
          dict: "a table of settings"}


def _show(v) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def check_fields(obj) -> None:
    """InputError unless every field of the dataclass `obj` holds its annotated type (bool, int, float,
    str, dict). A bool is no number; an int given for a float is stored as a float; floats are finite."""
    hints = typing.get_type_hints(type(obj))
    for f in fields(obj):
        want, v = hints[f.name], getattr(obj, f.name)
        if want is float and isinstance(v, int) and not isinstance(v, bool):
            try:
                v = float(v)
            except OverflowError:
                v = math.inf
            object.__setattr__(obj, f.name, v)
        ok = isinstance(v, want) and (want is bool or not isinstance(v, bool))
        if not ok or (want is float and not math.isfinite(v)):
            raise InputError(f"{f.name} must be {_KINDS.get(want, want.__name__)}, got {_show(v)}")


def check_range(name: str, v, lo=None, hi=None) -> None:
    """InputError unless lo <= v <= hi (None: no bound)."""
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        bounds = f"from {lo} to {hi}" if lo is not None and hi is not None else \
            f"at least {lo}" if lo is not None else f"at most {hi}"
        raise InputError(f"{name} must be {bounds}, got {_show(v)}")


@dataclass(frozen=True)
class ModelConfig:
    """What a Super SloMo model is made of.

    width:      multiplier on the reference widths 32..512 (1.0 reference, 0.5 half, 0.25 quarter)
    flow:       "unet" (the paper's flow network) or "dis" (OpenCV DIS flow, nothing learned)
    padding:    warp padding, "zeros" (the reference) or "border"
    leaky_head: the reference's leaky ReLU after each U-Net's last convolution
    dis_preset: DIS quality preset when flow == "dis" ("fine" is "medium" down to full resolution)
    flip_ensemble: at inference, also interpolate the mirrored pair and average the two frames
                   (two flow estimates, twice the time; training is unaffected)
    """
    width: float = 1.0
    flow: str = "unet"
    padding: str = "zeros"
    leaky_head: bool = True
    dis_preset: str = "medium"
    flip_ensemble: bool = False

    def __post_init__(self):
        check_fields(self)
        if not 0 < self.width <= 4:
            raise InputError(f"width must be a number in (0, 4], got {self.width!r}")
        if self.flow not in FLOW_FRONT_ENDS:
            raise InputError(f"flow must be one of {FLOW_FRONT_ENDS}, got {self.flow!r}")
        if self.padding not in PADDINGS:
            raise InputError(f"padding must be one of {PADDINGS}, got {self.padding!r}")
        if not isinstance(self.leaky_head, bool):
            raise InputError(f"leaky_head must be true or false, got {self.leaky_head!r}")
        if not isinstance(self.flip_ensemble, bool):
            raise InputError(f"flip_ensemble must be true or false, got {self.flip_ensemble!r}")
        if self.dis_preset not in DIS_PRESET_NAMES:
            raise InputError(f"dis_preset must be one of {DIS_PRESET_NAMES}, got {self.dis_preset!r}")

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        if not isinstance(d, dict):
            raise InputError(f"model settings must be a table, got {_show(d)}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(map(str, set(d) - known))
        if unknown:
            raise InputError(f"unknown model config keys: {', '.join(unknown)}")
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)
