"""The exact-resume state of a run (`state.pt`): model, optimizer and scheduler state, step, best
validation PSNR, history, config and every global RNG state, as tensors and plain containers only,
so that it loads with `torch.load(..., weights_only=True)`.

    atomic_save({"step": ..., "rng": rng_state(), ...}, path)   # `Trainer.save_state`
    s = read_state(path)                                        # CheckpointError for a bad file
"""
import random

import numpy as np
import torch

from ..checkpoint import non_finite
from ..errors import CheckpointError

REQUIRED = {"step", "model", "opt", "sched", "rng", "best"}
_FRESH = "start over with --fresh"


def rng_state() -> dict:
    """The global RNG states as tensors and plain containers (loadable with weights_only=True)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, py_gauss = random.getstate()
    return {"torch": torch.get_rng_state(),
            "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                      "has_gauss": int(has_gauss), "gauss": float(gauss)},
            "python": {"version": version, "state": list(internal), "gauss": py_gauss}}


def set_rng_state(s: dict) -> None:
    """Set the global RNG states that `rng_state` returned."""
    torch.set_rng_state(s["torch"])
    n = s["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = s["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))


def seed_all(seed: int) -> None:
    """Seed PyTorch's, NumPy's and Python's global RNGs."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2 ** 32)
    random.seed(seed)


def read_state(path) -> dict:
    """A state that `Trainer.save_state` wrote, loaded safely (tensors and plain containers only). A file that
    is refused, corrupt, truncated, of another kind or non-finite: CheckpointError."""
    try:
        s = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - unpickling refused, or a corrupt/truncated file
        raise CheckpointError(f"{path}: cannot resume from this training state ({type(e).__name__}); "
                              f"{_FRESH}") from e
    if not isinstance(s, dict) or not REQUIRED <= set(s):
        raise CheckpointError(f"{path}: not a training state of slomo train; {_FRESH}")
    bad = non_finite(s["model"]) if isinstance(s["model"], dict) else None
    if bad:
        raise CheckpointError(f"{path}: tensor {bad!r} holds non-finite values (the run diverged); {_FRESH}")
    return s


def does_not_fit(path, e: Exception) -> CheckpointError:
    """The error for a state whose tensors or entries do not fit the run."""
    why = " ".join(str(e).split())[:120]
    return CheckpointError(f"{path}: this training state does not fit the run ({why}); {_FRESH}")
