"""Training: `TrainConfig` (a validated dataclass, from a TOML/JSON file plus key=value overrides) and
`train(config) -> Path` (the best checkpoint), around a `Trainer` whose `step()` returns (loss, metrics).

config (the run's settings and schedule), init_model (the model a run starts from), state (the
exact-resume state), trainer (`Trainer`) and loop (`train`, validation, logging, the run folder).
"""
from .config import TrainConfig, load_config, lr_factor
from .loop import front_end_psnr, train, validate
from .trainer import Trainer

__all__ = ["TrainConfig", "load_config", "lr_factor", "Trainer", "train", "validate", "front_end_psnr"]
