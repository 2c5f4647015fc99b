#!/bin/bash
# The learned-flow model on a CUDA machine, end to end in about 8 minutes (checkpoints/gpu_train.py).
# Beforehand, on a machine with the training footage:
#     python checkpoints/gpu_train.py pack FOOTAGE .gpu/pack      # at most 50 MiB; .gpu/ is ignored by git
# then, with .gpu carried to the GPU machine:
#     bash checkpoints/gpu_unet.sh                               # writes $OUT/unet/
# Afterwards: python checkpoints/gpu_train.py join OUT/unet/slomo-unet-gpu.pt.part0 runs/slomo-unet-gpu.pt
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
out="${OUT:-/tmp/out}/unet"
python3 checkpoints/gpu_train.py train .gpu/pack "$out" --minutes "${MINUTES:-8}" --width "${WIDTH:-0.5}" \
  --batch "${BATCH:-16}" --crop 256 --log-every 200
ls -la "$out"
