"""`Padder`: maps padded to multiples of 32 for the U-Nets, results cropped back (as RAFT's `InputPadder`).

    padder = Padder(I0.shape)             # I0: (B,3,H,W), any H and W
    I0p, I1p = padder.pad(I0, I1)         # (B,3,H32,W32), edge rows and columns repeated
    It = padder.unpad(Itp)                # (..., H32, W32) -> (..., H, W)
"""
from torch.nn import functional as F

MULTIPLE = 32  # the U-Net halves its maps five times


class Padder:
    """Replicate-padding at the bottom and right to multiples of MULTIPLE, and the crop back."""

    def __init__(self, shape):
        """shape: (..., H, W), a tensor's shape or just (H, W)."""
        self.size = (int(shape[-2]), int(shape[-1]))
        H, W = self.size
        self.padded_size = (H + -H % MULTIPLE, W + -W % MULTIPLE)
        self._pad = (0, -W % MULTIPLE, 0, -H % MULTIPLE)  # F.pad order: left, right, top, bottom

    def pad(self, *maps) -> list:
        """Each (B,C,H,W) map padded to (B,C,H32,W32); a map that needs nothing is returned as is."""
        return [F.pad(x, self._pad, mode="replicate") if any(self._pad) else x for x in maps]

    def unpad(self, x):
        """x (..., H32, W32) cropped back to (..., H, W), a view."""
        H, W = self.size
        return x[..., :H, :W]
