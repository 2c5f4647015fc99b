import pytest
import torch

from slomo import (
    CheckpointError,
    SuperSloMo,
    read_checkpoint,
    write_reference_checkpoint,
)
from slomo.checkpoint import atomic_save


def _small():
    torch.manual_seed(0)
    return SuperSloMo(width=0.25, flow="dis", padding="border", leaky_head=False)


def test_project_format_round_trip(tmp_path):
    m = _small()
    path = m.save(tmp_path / "m.pt", step=12, metrics={"psnr": 33.1})
    back = SuperSloMo.from_checkpoint(path, device="cpu")
    assert back.config == m.config
    assert back.metadata["step"] == 12 and back.metadata["metrics"]["psnr"] == 33.1
    for k, v in m.state_dict().items():
        assert torch.equal(v, back.state_dict()[k])
    I0, I1 = torch.rand(1, 3, 40, 48), torch.rand(1, 3, 40, 48)
    assert torch.allclose(m.eval().interpolate(I0, I1, 0.5), back.interpolate(I0, I1, 0.5))


def test_save_leaves_no_temporary_files(tmp_path):
    _small().save(tmp_path / "m.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_reference_layout_load_infers_width(tmp_path):
    donor = SuperSloMo(width=0.25)
    path = write_reference_checkpoint(tmp_path / "ref.ckpt", donor.flow.state_dict(), donor.interp.state_dict())
    config, sd, meta = read_checkpoint(path)
    assert config.width == 0.25 and config.flow == "unet" and config.padding == "zeros"
    assert meta["source_format"] == "reference" and "timestamp" in meta
    assert SuperSloMo.from_checkpoint(path).config.leaky_head is True


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        SuperSloMo.from_checkpoint(tmp_path / "nope.ckpt")


def test_garbage_bytes(tmp_path):
    p = tmp_path / "garbage.ckpt"
    p.write_bytes(b"this is not a checkpoint" * 100)
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        SuperSloMo.from_checkpoint(p)


def test_arbitrary_objects_are_not_unpickled(tmp_path):
    p = tmp_path / "evil.ckpt"
    torch.save({"state_dictFC": {}, "state_dictAT": {}, "payload": _Evil()}, p)
    with pytest.raises(CheckpointError, match="refused to load"):
        SuperSloMo.from_checkpoint(p)


class _Evil:
    pass


def test_wrong_keys(tmp_path):
    p = atomic_save({"model": {"w": torch.zeros(1)}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a Super SloMo checkpoint"):
        SuperSloMo.from_checkpoint(p)
    donor = SuperSloMo(width=0.25)
    fc = donor.flow.state_dict()
    fc.pop("down3.conv1.bias")
    p = write_reference_checkpoint(tmp_path / "missing.ckpt", fc, donor.interp.state_dict())
    with pytest.raises(CheckpointError, match="down3.conv1.bias"):
        SuperSloMo.from_checkpoint(p)


def test_wrong_shapes(tmp_path):
    donor = SuperSloMo(width=0.25)
    at = donor.interp.state_dict()
    at["conv3.weight"] = torch.zeros(4, 8, 3, 3)
    p = write_reference_checkpoint(tmp_path / "shape.ckpt", donor.flow.state_dict(), at)
    with pytest.raises(CheckpointError, match=r"interp.conv3.weight.*\(4, 8, 3, 3\)"):
        SuperSloMo.from_checkpoint(p)


def test_bad_config_in_project_format(tmp_path):
    m = _small()
    obj = {"format": "slomo-checkpoint", "version": 1, "config": {**m.config.to_dict(), "colour": "red"},
           "state_dict": m.state_dict(), "metadata": {}}
    p = atomic_save(obj, tmp_path / "cfg.pt")
    with pytest.raises(CheckpointError, match="colour"):
        SuperSloMo.from_checkpoint(p)
