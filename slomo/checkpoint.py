"""Reading and writing checkpoints: the reference's `SuperSloMo.ckpt` and the project's own format.

Both load with `torch.load(weights_only=True)`: tensors and plain containers only, plus
`datetime` for the reference's timestamp. Nothing else is unpickled, and weights that are not
finite (a diverged run: black frames) are refused.
"""
import datetime
import pickle
from pathlib import Path

import torch

from .config import ModelConfig
from .errors import CheckpointError
from .files import atomic_output

FORMAT = "slomo-checkpoint"
VERSION = 1
REFERENCE_KEYS = ("state_dictFC", "state_dictAT")
DEFAULT_NAME = "slomo-dis.pt"


def default_checkpoint() -> Path:
    """The shipped checkpoint: `checkpoints/slomo-dis.pt` of the checkout, or of the installed package."""
    from .bundled import bundled_dir
    return bundled_dir("checkpoints") / DEFAULT_NAME


def _torch_load(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with torch.serialization.safe_globals([datetime.datetime, datetime.timezone, datetime.timedelta]):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "global" not in str(e).lower():
            raise CheckpointError(f"{path}: not a readable PyTorch checkpoint (corrupt or truncated file)") from e
        first = next((ln.strip() for ln in str(e).splitlines() if "global" in ln.lower()), "")
        raise CheckpointError(f"{path}: refused to load, it holds objects other than tensors ({first[:120]})") from e
    except Exception as e:  # torch raises many types on corrupt files (RuntimeError, IndexError, ...)
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint (corrupt or truncated file)") from e
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: not a Super SloMo checkpoint (holds a {type(obj).__name__}, not a dict)")
    return obj


def _reference_width(sd: dict, path: Path) -> float:
    w = sd.get("conv1.weight")
    if not isinstance(w, torch.Tensor) or w.dim() != 4:
        raise CheckpointError(f"{path}: reference checkpoint has no valid 'conv1.weight'")
    return w.shape[0] / 32


def non_finite(state_dict: dict):
    """The name of the first floating-point tensor holding NaN or infinity, else None."""
    for k, v in state_dict.items():
        if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all()):
            return k
    return None


def _check_finite(state_dict: dict, path) -> None:
    bad = non_finite(state_dict)
    if bad is not None:
        raise CheckpointError(f"{path}: tensor {bad!r} holds non-finite values (NaN or infinity: a diverged "
                              f"run); it would make black frames")


def read_checkpoint(path) -> tuple:
    """Load any supported checkpoint. Returns (ModelConfig, state_dict, metadata)."""
    path = Path(path)
    obj = _torch_load(path)
    if obj.get("format") == FORMAT:
        if obj.get("version") != VERSION:
            raise CheckpointError(f"{path}: checkpoint format version {obj.get('version')} is not supported")
        try:
            config = ModelConfig.from_dict(obj["config"])
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: bad model config in checkpoint ({e})") from e
        if not isinstance(obj.get("state_dict"), dict):
            raise CheckpointError(f"{path}: checkpoint has no state_dict")
        _check_finite(obj["state_dict"], path)
        return config, obj["state_dict"], obj.get("metadata", {})
    if all(k in obj for k in REFERENCE_KEYS):
        fc, at = obj["state_dictFC"], obj["state_dictAT"]
        if not isinstance(fc, dict) or not isinstance(at, dict):
            raise CheckpointError(f"{path}: reference checkpoint's state dicts are not dicts")
        config = ModelConfig(width=_reference_width(fc, path), flow="unet", padding="zeros", leaky_head=True)
        sd = {f"flow.{k}": v for k, v in fc.items()}
        sd.update({f"interp.{k}": v for k, v in at.items()})
        meta = {k: v for k, v in obj.items() if k not in REFERENCE_KEYS}
        meta["source_format"] = "reference"
        _check_finite(sd, path)
        return config, sd, meta
    keys = ", ".join(sorted(map(str, obj))[:6])
    raise CheckpointError(f"{path}: not a Super SloMo checkpoint (keys: {keys or 'none'}; expected "
                          f"'state_dictFC'/'state_dictAT' or the slomo format)")


def check_state_dict(model: torch.nn.Module, sd: dict, path) -> None:
    """Raise CheckpointError naming the first missing, unexpected or misshapen tensor."""
    want = model.state_dict()
    missing = [k for k in want if k not in sd]
    unexpected = [k for k in sd if k not in want]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {len(missing)} tensors, first {missing[0]!r}")
    if unexpected:
        raise CheckpointError(f"{path}: checkpoint has {len(unexpected)} unexpected tensors, first {unexpected[0]!r}")
    for k, v in want.items():
        got = sd[k]
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(v.shape):
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            raise CheckpointError(f"{path}: tensor {k!r} has shape {shape}, the model needs {tuple(v.shape)}")


def atomic_save(obj, path) -> Path:
    """torch.save to a temporary file beside `path`, then rename (replacing `path`): no half-written
    files. Saved through a file object, so that a full disk is reported as such (DiskFullError)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, overwrite=True) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)
    return path


def write_checkpoint(path, config: ModelConfig, state_dict: dict, **metadata) -> Path:
    """Write the project's format: config, weights and free-form metadata (step, metrics, ...)."""
    obj = {"format": FORMAT, "version": VERSION, "config": config.to_dict(),
           "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()}, "metadata": metadata}
    return atomic_save(obj, path)


def write_reference_checkpoint(path, flow_state: dict, interp_state: dict, **extra) -> Path:
    """Write the reference repository's layout (used by tests and for export)."""
    obj = {"Detail": "Super SloMo checkpoint", "epoch": 0, "timestamp": datetime.datetime.now(),
           "trainBatchSz": 6, "validationBatchSz": 10, "learningRate": 1e-4,
           "loss": [[0.0]], "valLoss": [[0.0]], "valPSNR": [[0.0]],
           "state_dictFC": {k: v.detach().cpu() for k, v in flow_state.items()},
           "state_dictAT": {k: v.detach().cpu() for k, v in interp_state.items()}}
    obj.update(extra)
    return atomic_save(obj, path)
