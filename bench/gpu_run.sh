#!/bin/bash
# Issue 6's GPU checks in one go, on a CUDA machine (bench/README.md, "GPU"):
#
#     bash bench/gpu_run.sh [all|pipeline|agreement|shipped|matrix]
#
# Needs python3 with torch, slomo's other needs (numpy, opencv, tqdm) and, for the end-to-end
# part, ffmpeg through imageio-ffmpeg. On an offline machine without imageio-ffmpeg it installs the
# wheel(s) found in .gpu/ (copied there beforehand; ignored by git) and, if that ffmpeg is older than
# 5.1, goes through bench/ffmpeg_vsync.sh.
set -u  # a failed step does not stop the others
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if ! python3 -c "import imageio_ffmpeg" 2>/dev/null && ls .gpu/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/*.whl
  export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
exe=$(python3 -c "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())")
if ! "$exe" -hide_banner -h full 2>/dev/null | grep -q fps_mode; then
  export FFMPEG_REAL="$exe" IMAGEIO_FFMPEG_EXE="$PWD/bench/ffmpeg_vsync.sh"
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
work=$(mktemp -d)
clip=(--width 1280 --height 720 --frames 60 --scale 8 --threads '' --src data/pancake-flip.mkv --work "$work")
case "${1:-all}" in
all)
  python3 bench/cuda_speed.py --work "$work"
  python3 bench/convert_speed.py --device cuda --precision auto "${clip[@]}" --rounds 2
  python3 -m slomo prepare data/pancake-flip.mkv "$work/prep" --size 640x360 --split 1,0,0 --quiet
  python3 bench/train_speed.py "$work/prep" --device cuda --precision fp32 auto --batch-size 8 --crop 352
  ;;
pipeline)  # what bounds a whole conversion on a GPU: fp32 (exact agreement), bf16, and no model at all
  python3 bench/convert_speed.py --device cuda --precision fp32 "${clip[@]}" --floor
  python3 bench/convert_speed.py --device cuda --precision auto "${clip[@]}"
  ;;
agreement)  # the GPU's video frames against the reference-style loop's, TF32 on and off, and the CPU's
  python3 -c "import sys; sys.path.insert(0, 'bench'); import common; from pathlib import Path
common.make_clip(Path('$work/clip.mp4'), 1280, 720, 8, src=Path('data/pancake-flip.mkv'))"
  python3 bench/cuda_agreement.py "$work/clip.mp4" --pairs 3
  ;;
shipped)  # the shipped checkpoint (DIS on the CPU, network on the GPU), whole conversions; then 1080p x8
  python3 -c "import sys; sys.path.insert(0, 'bench'); import common; from pathlib import Path
common.make_clip(Path('$work/clip.mp4'), 1280, 720, 60, src=Path('data/pancake-flip.mkv'))"
  for input in data/pancake-flip.mkv "$work/clip.mp4"; do
    for fast in "" --fast; do
      start=$EPOCHREALTIME
      python3 -m slomo convert "$input" -o "$work/out.mp4" --scale 8 --overwrite -q $fast
      echo "shipped checkpoint, $input x8 $fast: $(awk "BEGIN {print $EPOCHREALTIME - $start}") s wall"
    done
  done
  python3 bench/convert_speed.py --device cuda --precision auto --width 1920 --height 1080 --frames 20 --scale 8 \
    --threads '' --src data/pancake-flip.mkv --work "$work"
  ;;
matrix)  # whole conversions at 360p-4K x x2/x4/x8, each beside the reference-style loop (not at 4K)
  python3 bench/matrix.py --device cuda --precision auto --threads '' --frames 8 --src data/pancake-flip.mkv \
    --work "$work" --cases 360p_x2 360p_x4 360p_x8 720p_x2 720p_x4 720p_x8 1080p_x2 1080p_x4 1080p_x8 4K_x2 4K_x8
  ;;
esac
