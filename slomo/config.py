"""Model configuration: a small dataclass, validated on creation, stored in checkpoints."""
from dataclasses import asdict, dataclass, fields

from .errors import InputError
from .flow import DIS_PRESETS

FLOW_FRONT_ENDS = ("unet", "dis")
PADDINGS = ("zeros", "border")
DIS_PRESET_NAMES = tuple(DIS_PRESETS)  # ultrafast, fast, medium, fine: the presets `dis_flow` knows


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
        if not isinstance(self.width, (int, float)) or not 0 < self.width <= 4:
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
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(f"unknown model config keys: {', '.join(unknown)}")
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)
