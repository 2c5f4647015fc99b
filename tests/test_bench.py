"""The bench's baseline must compute what slomo computes, or its speed-ups mean nothing."""
import sys

import torch
from conftest import REPO

from slomo import SuperSloMo, write_reference_checkpoint

sys.path.insert(0, str(REPO / "bench"))
import common  # noqa: E402
import reference_convert  # noqa: E402


def test_reference_style_loop_matches_slomo(tmp_path):
    torch.manual_seed(0)
    donor = SuperSloMo(width=0.25)
    with torch.no_grad():
        donor.flow.conv3.weight.mul_(20.0)  # flows of a few pixels, so the warps do real work
    ckpt = write_reference_checkpoint(tmp_path / "ref.ckpt", donor.flow.state_dict(), donor.interp.state_dict())
    fc, at = reference_convert.load_reference(ckpt)
    I0, I1 = torch.rand(1, 3, 64, 96), torch.rand(1, 3, 64, 96)
    ts = [0.25, 0.5, 0.75]
    ref = torch.stack([f[0] for f in reference_convert.interpolate_pair(fc, at, I0, I1, ts)])
    ours = SuperSloMo.from_checkpoint(ckpt, device="cpu").interpolate(I0, I1, ts, precision="fp32")[0]
    assert (ref - ours).abs().max() < 1e-4
    blend = torch.stack([(1 - t) * I0[0] + t * I1[0] for t in ts])
    assert (ref - blend).abs().max() > 1e-2  # not a trivial agreement


def test_timed_reports_the_child_process(tmp_path):
    code = "x = bytearray(200_000_000); x[::4096] = b'1' * len(x[::4096]); print('done')"
    r = common.timed([sys.executable, "-c", code], cwd=tmp_path)
    assert r["peak_rss_mb"] > 190 and r["stdout_tail"] == "done" and r["wall_s"] > 0
