"""slomo: Super SloMo (Jiang et al., CVPR 2018) for notebooks and the command line."""
from .checkpoint import read_checkpoint, write_checkpoint, write_reference_checkpoint
from .config import ModelConfig
from .errors import CheckpointError, InputError, SlomoError
from .model import SuperSloMo
from .padding import Padder
from .pretrained import load, load_model
from .synthesis import intermediate_flows, synthesize
from .video import ConvertResult, convert
from .warp import backward_warp

__version__ = "0.1.0"

__all__ = ["load", "SuperSloMo", "ModelConfig", "Padder", "load_model", "synthesize", "intermediate_flows",
           "backward_warp", "read_checkpoint", "write_checkpoint", "write_reference_checkpoint",
           "SlomoError", "CheckpointError", "InputError", "convert", "ConvertResult", "__version__"]
