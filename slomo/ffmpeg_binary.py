"""The one ffmpeg binary slomo runs: imageio-ffmpeg's build, which has libx264 and aac.

The video code, the MEMC baseline, the tests and the bench scripts all find it here.
"""


def ffmpeg_exe() -> str:
    """The path of the ffmpeg binary bundled with imageio-ffmpeg."""
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()
