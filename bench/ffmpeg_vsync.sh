#!/bin/bash
# For machines whose only ffmpeg is older than 5.1 (such as imageio-ffmpeg 0.5.1's 4.2.2, carried
# to the offline GPU machine by bench/gpu_run.sh): ffmpeg 4 spells `-fps_mode` as `-vsync`.
# Use as IMAGEIO_FFMPEG_EXE, with FFMPEG_REAL naming the real binary.
a=("$@")
for i in "${!a[@]}"; do
  [ "${a[$i]}" = "-fps_mode" ] && a[$i]="-vsync"
done
exec "$FFMPEG_REAL" "${a[@]}"
