"""The model a run starts from: `SuperSloMo(cfg.model_config)`, weights taken from `cfg.init`, He
init of the networks not loaded, and optionally a zeroed interpolation head."""
import torch

from ..checkpoint import read_checkpoint
from ..errors import CheckpointError
from ..model import SuperSloMo
from .config import TrainConfig


def build_model(cfg: TrainConfig) -> SuperSloMo:
    """The run's model on the CPU, initialised as `cfg` says (draws from PyTorch's global RNG)."""
    model = SuperSloMo(cfg.model_config)
    if cfg.init:
        _load_init(model, cfg)
    if cfg.kaiming_init:
        loaded = ("flow", "interp") if cfg.init and not cfg.init_flow_only else ("flow",) if cfg.init else ()
        for name in ("flow", "interp"):
            net = getattr(model, name)
            if net is None or name in loaded:
                continue
            for mod in net.modules():
                if isinstance(mod, torch.nn.Conv2d):
                    torch.nn.init.kaiming_normal_(mod.weight, a=0.1, nonlinearity="leaky_relu")
                    torch.nn.init.zeros_(mod.bias)
    if cfg.zero_head:
        torch.nn.init.zeros_(model.interp.conv3.weight)
        torch.nn.init.zeros_(model.interp.conv3.bias)
        if cfg.visibility_init:
            with torch.no_grad():
                model.interp.conv3.weight[4:5].normal_(0.0, cfg.visibility_init)
    return model


def _load_init(model: SuperSloMo, cfg: TrainConfig) -> None:
    """Both networks' weights from the checkpoint `cfg.init` (only the flow network's with
    `init_flow_only`); CheckpointError when they do not fit the model."""
    config, state, _ = read_checkpoint(cfg.init)
    prefixes = ("flow.",) if cfg.init_flow_only else ("flow.", "interp.")
    own = model.state_dict()
    picked = {k: v for k, v in state.items() if k.startswith(prefixes) and k in own}
    bad = [k for k, v in picked.items() if v.shape != own[k].shape]
    if bad or not picked:
        raise CheckpointError(f"{cfg.init}: does not fit this model (width {config.width} vs "
                              f"{cfg.model_config.width}, flow {config.flow} vs {cfg.model_config.flow})")
    model.load_state_dict(picked, strict=False)
