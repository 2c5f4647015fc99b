"""The baseline: a plain, reference-style Super SloMo video conversion, as one whole process.

    python bench/reference_convert.py IN.mp4 OUT.mp4 --checkpoint SuperSloMo.ckpt --scale 4

What "plain reference-style" means here (issue 6): fp32, PyTorch's default kernels and memory
layout, one pair per pass, one t per interpolation-network pass (the flow pass is shared by the
t values of a pair, as in the reference's video_to_slomo.py). Frames are decoded by ffmpeg into a
pipe, interpolated in a simple loop, and encoded by ffmpeg from a pipe, with the same decode and
encode settings as `slomo convert` so the two outputs can be compared frame by frame.

This file deliberately does not use slomo's networks, model or video code: the U-Net and the
equations are written out plainly below (the weights come from the same checkpoint).
"""
import argparse
import re
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

MEAN = torch.tensor([0.429, 0.431, 0.397]).view(1, 3, 1, 1)


def load_reference(path):
    """state_dictFC (flow U-Net) and state_dictAT (interpolation U-Net) of a reference checkpoint."""
    import datetime
    with torch.serialization.safe_globals([datetime.datetime, datetime.timezone, datetime.timedelta]):
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    return ckpt["state_dictFC"], ckpt["state_dictAT"]


def unet(sd, x):
    """The reference U-Net, written with plain functional calls."""
    def conv(v, name):
        w = sd[name + ".weight"]
        return F.leaky_relu(F.conv2d(v, w, sd[name + ".bias"], padding=w.shape[-1] // 2), 0.1)
    x = conv(conv(x, "conv1"), "conv2")
    skips = [x]
    for i in range(1, 6):
        x = conv(conv(F.avg_pool2d(x, 2), f"down{i}.conv1"), f"down{i}.conv2")
        skips.append(x)
    skips.pop()
    for i in range(1, 6):
        x = conv(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False), f"up{i}.conv1")
        x = conv(torch.cat((x, skips.pop()), 1), f"up{i}.conv2")
    return conv(x, "conv3")


def warp(img, flow):
    """Backward warp: bilinear sample at (x + Fx, y + Fy), zeros outside."""
    _, _, H, W = img.shape
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float32, device=img.device),
                            torch.arange(W, dtype=torch.float32, device=img.device), indexing="ij")
    gx = (xs + flow[:, 0]) * (2.0 / (W - 1)) - 1
    gy = (ys + flow[:, 1]) * (2.0 / (H - 1)) - 1
    return F.grid_sample(img, torch.stack((gx, gy), -1), mode="bilinear", padding_mode="zeros", align_corners=True)


def interpolate_pair(fc, at, I0, I1, ts):
    """I0, I1: (1,3,H,W) float RGB in [0,1], H and W multiples of 32 -> list of (1,3,H,W) frames."""
    mean = MEAN.to(I0.device)
    I0, I1 = I0 - mean, I1 - mean
    flow = unet(fc, torch.cat((I0, I1), 1))
    F01, F10 = flow[:, :2], flow[:, 2:]
    out = []
    for t in ts:  # one t per interpolation-network pass
        Ft0 = -(1 - t) * t * F01 + t * t * F10
        Ft1 = (1 - t) * (1 - t) * F01 - t * (1 - t) * F10
        g0, g1 = warp(I0, Ft0), warp(I1, Ft1)
        o = unet(at, torch.cat((I0, I1, F01, F10, Ft1, Ft0, g1, g0), 1))
        Ft0f, Ft1f = Ft0 + o[:, :2], Ft1 + o[:, 2:4]
        V0 = torch.sigmoid(o[:, 4:5])
        V1 = 1 - V0
        It = ((1 - t) * V0 * warp(I0, Ft0f) + t * V1 * warp(I1, Ft1f)) / ((1 - t) * V0 + t * V1)
        out.append((It + mean).clamp(0, 1))
    return out


def ffmpeg_exe():
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def probe(path):
    """Width, height, frame rate and colour matrix from ffmpeg's header dump."""
    info = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", path],
                          capture_output=True, text=True).stderr
    video = re.search(r"Video: .*", info).group(0)
    m = re.search(r"(\d{2,5})x(\d{2,5})", video)
    r = re.search(r"([\d.]+) fps", video)
    return int(m.group(1)), int(m.group(2)), r.group(1), "bt709" if "bt709" in video else "bt601"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--checkpoint", required=True, help="reference-format SuperSloMo.ckpt")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--device", default="cpu", help="cpu or cuda (the reference ran on either)")
    args = p.parse_args(argv)
    start = time.time()
    torch.set_grad_enabled(False)
    device = torch.device(args.device)
    fc, at = load_reference(args.checkpoint)
    fc, at = ({k: v.to(device) for k, v in sd.items()} for sd in (fc, at))
    W, H, fps, matrix = probe(args.input)
    ffmpeg = ffmpeg_exe()
    dec = subprocess.Popen([ffmpeg, "-nostdin", "-v", "error", "-i", args.input, "-an", "-fps_mode", "passthrough",
                            "-vf", f"scale={W}:{H}:in_color_matrix={matrix},format=rgb24",
                            "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], stdout=subprocess.PIPE)
    tag = "bt709" if matrix == "bt709" else "smpte170m"
    vf = (f"scale=out_color_matrix={matrix}:out_range=tv,format=yuv420p,"
          f"setparams=colorspace={tag}:color_primaries={tag}:color_trc={tag}:range=tv")
    enc = subprocess.Popen([ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                            "-s", f"{W}x{H}", "-framerate", fps, "-i", "-", "-vf", vf, "-c:v", "libx264",
                            "-preset", "fast", "-crf", "18", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
                            args.output], stdin=subprocess.PIPE)
    ts = [k / args.scale for k in range(1, args.scale)]
    ph, pw = -H % 32, -W % 32

    def read():
        buf = dec.stdout.read(W * H * 3)
        if len(buf) < W * H * 3:
            return None
        return np.frombuffer(buf, np.uint8).reshape(H, W, 3)

    def tensor(frame):  # (H,W,3) uint8 -> (1,3,H',W') float, padded to multiples of 32
        x = torch.from_numpy(frame.copy()).to(device).permute(2, 0, 1).unsqueeze(0).float() / 255
        return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x

    prev = read()
    n_in, n_out = 1, 0
    while True:
        cur = read()
        if cur is None:
            break
        n_in += 1
        enc.stdin.write(prev.tobytes())
        for It in interpolate_pair(fc, at, tensor(prev), tensor(cur), ts):
            u8 = (It[0, :, :H, :W] * 255 + 0.5).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
            enc.stdin.write(np.ascontiguousarray(u8).tobytes())
        n_out += args.scale
        prev = cur
    enc.stdin.write(prev.tobytes())
    enc.stdin.close()
    if enc.wait() != 0 or dec.wait() != 0:
        sys.exit("ffmpeg failed")
    print(f"{args.output}: {n_in} -> {n_out + 1} frames in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
