#!/usr/bin/env bash
# Train the embedded model on a lent GPU machine in one call, and leave the results under $OUT.
#
# Usage (from the repo root, on the GPU machine):
#   bash engine/training/gpu_train.sh OBJECTIVE TIME_LIMIT_S [extra train args...]
# Needs: corpus/ (built by `infill train corpus build`), runs/tokenizer/tokenizer.json, and where the
# machine's transformers predates DiffusionGemma, a transformers wheel under .whl/.
set -euo pipefail
objective=${1:-diffusion}
limit=${2:-480}
shift 2 || true
out=${OUT:-$PWD/runs/gpu-out}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
python3 - <<'EOF'
import torch, transformers
print("torch", torch.__version__, "transformers", transformers.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
EOF
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv || true
run=runs/gpu-$objective
python3 -m engine.training.train --objective "$objective" --corpus corpus \
  --tokenizer runs/tokenizer/tokenizer.json --out "$run" --time-limit "$limit" --plan-from-time \
  --steps 1000000 "$@" 2>&1 | tee "$out/train-$objective.log"
# Bring back what fits: the model directory as one archive split into 15 MB parts, plus the log.
tar -C "$run" -cf - model train_log.jsonl | split -b 15m -d - "$out/$objective-model.tar.part-"
ls -la "$out"
