import pytest
import torch

from slomo import InputError
from slomo.baselines import MEMC, Blend, Duplicate, FlowInterp, get_method


def _moving_square(shift=8, size=64):
    I0, I1 = torch.zeros(1, 3, size, size), torch.zeros(1, 3, size, size)
    I0[..., 20:36, 16:32] = 1
    I1[..., 20:36, 16 + shift:32 + shift] = 1
    mid = torch.zeros(1, 3, size, size)
    mid[..., 20:36, 16 + shift // 2:32 + shift // 2] = 1
    return I0, I1, mid


@pytest.mark.parametrize("method", [Duplicate(), Blend(), FlowInterp(), MEMC()])
def test_call_shape(method):
    I0, I1, _ = _moving_square()
    out = method.interpolate(I0, I1, [0.25, 0.5, 0.75])
    assert out.shape == (1, 3, 3, 64, 64)
    assert out.min() >= 0 and out.max() <= 1


def test_duplicate_and_blend_values():
    I0, I1 = torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4)
    assert torch.allclose(Duplicate().interpolate(I0, I1, [0.4, 0.6])[0, :, 0, 0, 0], torch.tensor([0.0, 1.0]))
    assert torch.allclose(Blend().interpolate(I0, I1, [0.25, 0.75])[0, :, 0, 0, 0], torch.tensor([0.25, 0.75]))


@pytest.mark.parametrize("method", [FlowInterp(), MEMC()])
def test_motion_methods_beat_blending_on_motion(method):
    I0, I1, mid = _moving_square()
    err = (method.interpolate(I0, I1, 0.5)[:, 0] - mid).abs().mean()
    blend_err = (Blend().interpolate(I0, I1, 0.5)[:, 0] - mid).abs().mean()
    assert err < blend_err / 3


def test_flow_aux_and_unknown_method():
    I0, I1, _ = _moving_square()
    _, aux = FlowInterp().interpolate(I0, I1, 0.5, return_aux=True)
    assert aux["F01"].shape == (1, 2, 64, 64) and aux["Vt0"].shape == (1, 1, 1, 64, 64)
    with pytest.raises(InputError, match="unknown method"):
        get_method("magic")
    with pytest.raises(InputError, match="strictly between"):
        Blend().interpolate(I0, I1, 1.5)
