"""slomo.train.config: loss weights from files and overrides."""
import pytest

from slomo.errors import InputError
from slomo.losses import REFERENCE_WEIGHTS
from slomo.train import TrainConfig, load_config


def test_a_weight_override_changes_that_weight_of_the_defaults():
    cfg = load_config(None, ["data=x", "weights.perceptual=0"])
    assert cfg.weights == {**{k: 0.0 for k in cfg.weights}, **REFERENCE_WEIGHTS, "perceptual": 0.0}


def test_a_weight_override_changes_that_weight_of_the_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('data = "x"\n[weights]\nreconstruction = 1.0\nvisibility = 0.5\n')
    cfg = load_config(path, ["weights.visibility=0.25"])
    assert cfg.weights["reconstruction"] == 1.0 and cfg.weights["visibility"] == 0.25
    assert cfg.weights["perceptual"] == 0.0  # terms a file leaves out weigh 0


def test_all_weights_zero_is_one_clear_error():
    with pytest.raises(InputError, match="every loss weight is 0"):
        TrainConfig(data="x", weights={"reconstruction": 0})
    with pytest.raises(InputError, match="every loss weight is 0"):
        load_config(None, ["data=x"] + [f"weights.{k}=0" for k in REFERENCE_WEIGHTS])
