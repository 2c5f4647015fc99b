"""slomo.data.augmentation: flips and time reversal keep the flows consistent with the frames."""
import pytest
import torch

from slomo.data import augment
from slomo.warp import backward_warp


@pytest.mark.parametrize("seed", range(6))
def test_augment_keeps_flow_consistent(seed):
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 3, 24, 40, generator=torch.Generator().manual_seed(1))
    I0, I1 = base[0, :, 4:20, 4:36], base[0, :, 4:20, 1:33]  # I0(x) = I1(x + 3): F01 = (3, 0)
    flows = torch.zeros(4, 16, 32)
    flows[0], flows[2] = 3, -3
    It = base[None, 0, :, 4:20, 3:35]
    a0, a1, _, t, f = augment(I0, I1, It, torch.tensor([0.5]), g, flows=flows)
    warped = backward_warp(a1[None], f[None, :2])[0]
    assert torch.allclose(warped[:, 4:-4, 4:-4], a0[:, 4:-4, 4:-4], atol=1e-5)
    warped = backward_warp(a0[None], f[None, 2:])[0]
    assert torch.allclose(warped[:, 4:-4, 4:-4], a1[:, 4:-4, 4:-4], atol=1e-5)
