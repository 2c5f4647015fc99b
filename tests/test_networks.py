"""The paper's U-Net: the reference's layer names, widths and parameter counts."""
import torch

from slomo.networks import UNet, unet_widths


def test_reference_parameter_counts():
    flow, interp = UNet(6, 4), UNet(20, 5)
    assert sum(p.numel() for p in flow.parameters()) == 19_794_116
    assert sum(p.numel() for p in interp.parameters()) == 19_816_357


def test_reference_key_names_in_order():
    keys = list(UNet(6, 4).state_dict())
    assert len(keys) == 46
    assert keys[:4] == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"]
    assert keys[4:8] == [f"down1.conv{i}.{p}" for i in (1, 2) for p in ("weight", "bias")]
    assert keys[-2:] == ["conv3.weight", "conv3.bias"]
    assert "up5.conv2.weight" in keys


def test_compact_widths_and_shape():
    assert unet_widths(0.25) == (8, 16, 32, 64, 128, 128)
    net = UNet(20, 5, width=0.25)
    assert net(torch.rand(2, 20, 64, 96)).shape == (2, 5, 64, 96)


def test_leaky_head_passes_negatives_at_a_tenth():
    net = UNet(3, 1, width=0.25)
    torch.nn.init.zeros_(net.conv3.weight)
    torch.nn.init.constant_(net.conv3.bias, -1.0)
    assert torch.allclose(net(torch.rand(1, 3, 32, 32)), torch.full((1, 1, 32, 32), -0.1))
    net.leaky_head = False
    assert torch.allclose(net(torch.rand(1, 3, 32, 32)), torch.full((1, 1, 32, 32), -1.0))
