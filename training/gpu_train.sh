#!/usr/bin/env bash
# Train and evaluate the embedded model on a lent GPU machine, leaving results under $OUT.
#
# Usage, from the repo root on the GPU machine:
#   bash training/gpu_train.sh train diffusion TIME_LIMIT_S       # the diffusion model (plans its steps)
#   bash training/gpu_train.sh train ar TIME_LIMIT_S STEPS        # the same-size AR baseline, same steps
#   bash training/gpu_train.sh eval [LIMIT]         # HumanEval-Infilling for both, on this GPU
#   bash training/gpu_train.sh profile [BATCH]      # time and profile the training step (~5 min)
#   bash training/gpu_train.sh nextedit MODEL_DIR [LIMIT]  # next edit on a checkpoint (the published 26B-A4B-it)
#   bash training/gpu_train.sh all [TRAIN_S]        # everything in one call (~9 min; 'session' is the same): the
#        step's throughput, the diffusion run continued from the shipped weights, the 26B-A4B figures
# train and eval need corpus/ (infill train corpus build) and runs/tokenizer/tokenizer.json (infill train
# tokenizer); profile needs neither (synthetic batches of the longest prompts). All need, where the
# machine's transformers predates DiffusionGemma, .gpu/transformers_slim.zip (see TRAINING.md).
set -euo pipefail
phase=${1:?train, eval, nextedit, profile or all}
out=${OUT:-$PWD/runs/gpu-out}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
if [ -f .gpu/transformers_slim.zip ] && [ ! -d /tmp/site/transformers ]; then
  mkdir -p /tmp/site && (cd /tmp/site && python3 -m zipfile -e "$OLDPWD/.gpu/transformers_slim.zip" .)
fi
export PYTHONPATH=/tmp/site:$PWD
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no CUDA device')"

case $phase in
all|session)
  # What one lease of 15 device minutes allows, in one call (the machine's start takes one or two):
  # 1. the training step at batch 128 (lean, the default path): tokens/s, memory, the op table (~1 min);
  # 2. the diffusion run, continued from the shipped model's weights (a fresh optimizer, warm-up 50),
  #    for TRAIN_S seconds (default 300), its steps planned from the measured step time, a quarter of its
  #    rows edit examples (--edit-fraction 0.25: canvases seeded with a region before an edit, TRAINING.md)
  #    and half its fill examples carrying repository context from the other files of their package
  #    (--context-fraction 0.5, TRAINING.md);
  # 3. the full DiffusionGemma-26B-A4B shape with random weights: fill latency and tokens/s (~2 min).
  # $out gets 8 files at most (what comes back): profile.txt, session.log (every step's own log),
  # train-diffusion.log, diffusion-model.tar.part-00..03 (the model, ~50 MB), gpu-bench.json.
  limit=${2:-300}
  batch=${INFILL_GPU_BATCH:-128}  # a smaller batch only for a dry run of this script on a CPU
  timeout 150 python3 -m training.profile --shape small --batch-size "$batch" --prompt-length 832 \
    --canvas-length 64 --variants lean --warmup 3 --timed 5 --profiled 1 --out "$out/profile.txt" \
    >> "$out/session.log" 2>&1 || echo "profile failed or ran out of time"
  grep -h -A3 "^| variant" "$out/profile.txt" 2>/dev/null || tail -n 5 "$out/session.log"
  if [ ! -d corpus ]; then  # nothing carried: this machine's own site-packages (licenses checked, decontaminated)
    timeout 180 python3 -m training.corpus build --sources-dir '' --out corpus --max-compressed-mb 40 \
      --max-shard-mb 16 --jobs 0 --seed 0 >> "$out/session.log" 2>&1 || echo "corpus build failed"
    tail -n 2 "$out/session.log"
  fi
  mkdir -p runs/gpu-diffusion
  python3 -m training.train --objective diffusion --out runs/gpu-diffusion --corpus corpus \
    --tokenizer engine/models/infill-small/tokenizer.json --init-from engine/models/infill-small --batch-size "$batch" \
    --workers 6 --lr 1.2e-3 --warmup 50 --eval-every 250 --save-every 2000 --log-every 50 --seed 4 \
    --edit-fraction 0.25 --context-fraction 0.5 \
    --time-limit "$limit" --steps 1000000 --plan-from-time --plan-safety 0.9 \
    --plan-file runs/gpu-diffusion/plan.json > "$out/train-diffusion.log" 2>&1 || echo "diffusion run failed"
  tail -n 3 "$out/train-diffusion.log" | cut -c1-400 || true
  tar -C runs/gpu-diffusion -cf - model train_log.jsonl | split -b 15m -d - "$out/diffusion-model.tar.part-"
  if python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    timeout 170 python3 -m infill_tools.gpu_bench > "$out/gpu-bench.json" 2>> "$out/session.log" \
      || echo "gpu bench failed or ran out of time"
  else
    echo "no CUDA device: the 26B-A4B figures are skipped"
  fi
  tail -c 1500 "$out/gpu-bench.json" 2>/dev/null || true
  ;;
train)
  # One objective per call (the two side by side ran out of memory on an 80 GB card):
  #   train diffusion LIMIT_S      plans its step count from the measured step time, writes $out/plan.json
  #   train ar LIMIT_S STEPS       the AR baseline for exactly STEPS steps (the diffusion run's plan)
  # Both start from scratch with the same recipe and seed, so they see the same batches and tokens.
  objective=${2:?diffusion or ar}
  limit=${3:-540}
  common=(--corpus corpus --tokenizer runs/tokenizer/tokenizer.json --batch-size 128 --workers 6
          --lr 2e-3 --warmup 200 --eval-every 500 --save-every 2000 --log-every 50 --seed 0
          --time-limit "$limit")
  mkdir -p "runs/gpu-$objective"
  if [ "$objective" = diffusion ]; then
    rm -f runs/gpu-diffusion/plan.json
    python3 -m training.train --objective diffusion --out runs/gpu-diffusion "${common[@]}" \
      --steps 1000000 --plan-from-time --plan-safety 0.85 --plan-file runs/gpu-diffusion/plan.json \
      > "$out/train-diffusion.log" 2>&1 || echo "diffusion run failed"
    cp runs/gpu-diffusion/plan.json "$out/plan.json" 2>/dev/null || true
  else
    steps=${4:?the step count of the diffusion run (its plan.json)}
    python3 -m training.train --objective ar --out runs/gpu-ar "${common[@]}" --steps "$steps" \
      > "$out/train-ar.log" 2>&1 || echo "ar run failed"
  fi
  tail -n 3 "$out/train-$objective.log" || true
  tar -C "runs/gpu-$objective" -cf - model train_log.jsonl | split -b 15m -d - "$out/$objective-model.tar.part-"
  ;;
eval)
  limit=${2:-0}
  single=infill_tools/data/humaneval-infilling/HumanEval-SingleLineInfilling.jsonl.gz  # vendored
  span=infill_tools/data/humaneval-infilling/HumanEval-RandomSpanInfillingLight.jsonl.gz
  stride=${3:-1}
  mkdir -p runs/gpu-eval
  for objective in ar diffusion; do  # one at a time, so latencies are not disturbed by the other
    for split in single span; do
      data=$single; canvas=16
      [ $split = span ] && data=$span && canvas=64
      python3 -m infill_tools.humaneval --model runs/gpu-$objective/model --device cuda --data "$data" \
        --limit "$limit" --stride "$( [ $split = single ] && echo "$stride" || echo 1)" --canvas $canvas \
        --out runs/gpu-eval/eval-$split-$objective.json > runs/gpu-eval/eval-$split-$objective.log 2>&1 \
        || echo "eval $split $objective failed"
      tail -n 14 runs/gpu-eval/eval-$split-$objective.log || true
    done
  done
  cp runs/gpu-ar/train_log.jsonl runs/gpu-eval/ar-train_log.jsonl 2>/dev/null || true
  tar -C runs -cf "$out/evals.tar" gpu-eval
  tar -C runs/gpu-ar -cf - model | split -b 15m -d - "$out/ar-model.tar.part-"
  ;;
nextedit)
  # The next-edit benchmark on a model directory (the published DiffusionGemma-26B-A4B-it where one is on the
  # machine: its chat format's edit prompt, the canvas seeded with the region), beside the two baselines, with
  # the quiet/exact curve over gates: $out/next-edit.json and its table in $out/next-edit.log.
  model=${2:?a model directory}
  limit=${3:-0}
  python3 -m infill_tools.next_edit_eval --predictor model,no-edit,repeat-last-edit --model "$model" --device cuda \
    --gates 0.5,0.7,0.8,0.9,0.95 --limit "$limit" > "$out/next-edit.log" 2>&1 || echo "next-edit eval failed"
  python3 -m infill_tools.next_edit_eval --predictor model --model "$model" --device cuda --limit "$limit" \
    --json > "$out/next-edit.json" 2>> "$out/next-edit.log" || true
  tail -n 12 "$out/next-edit.log" || true
  ;;
profile)
  # Reference modules vs the default lean step, then the lean step with compiled layers (its warm-up
  # steps compile). Reports: $out/profile.txt and $out/profile-compiled.txt (op tables, memory, tokens/s).
  batch=${2:-128}
  common=(--shape small --batch-size "$batch" --prompt-length 832 --canvas-length 64 --timed 5 --profiled 2)
  python3 -m training.profile "${common[@]}" --variants reference,lean --warmup 3 \
    --out "$out/profile.txt" > "$out/profile.log" 2>&1 || echo "profile failed"
  timeout 420 python3 -m training.profile "${common[@]}" --variants compiled --warmup 4 \
    --out "$out/profile-compiled.txt" >> "$out/profile.log" 2>&1 || echo "compiled profile failed"
  grep -h -A4 "^| variant" "$out"/profile*.txt || tail -n 30 "$out/profile.log"
  ;;
esac
ls -la "$out"
