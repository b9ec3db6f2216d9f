#!/usr/bin/env bash
# Prepare what a GPU session carries to the lent machine for `training/gpu_train.sh`:
#   .gpu/transformers_slim.zip   transformers from .venv with only the model families DiffusionGemma needs
#                                (the GPU image's transformers predates DiffusionGemma)
#   runs/tokenizer/tokenizer.json  the shipped model's tokenizer, so new runs share its vocabulary
#   corpus/                      with --corpus: fetch the source packages and build an 8 MiB corpus (~5 min);
#                                the tracked tree (55 MB, the shipped model) leaves ~9 MiB of the 64 MiB that travels
# Then, with the device tool:  run(carry=[".gpu", "runs/tokenizer", "corpus"], command="bash training/gpu_train.sh ...")
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
[ -x $py ] || { echo "gpu_prepare: run scripts/setup.sh first" >&2; exit 1; }
mkdir -p .gpu runs/tokenizer
$py - <<'PY'
import pathlib, zipfile, transformers
root = pathlib.Path(transformers.__file__).parent
keep = ("auto", "diffusion_gemma", "gemma", "gemma2", "gemma3", "gemma3n", "gemma4", "siglip", "siglip2")
out = pathlib.Path(".gpu/transformers_slim.zip")
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_dir() or "__pycache__" in rel.parts or path.suffix not in (".py", ".json", ".txt"):
            continue
        if rel.parts[0] == "models" and len(rel.parts) > 2 and rel.parts[1] not in keep:
            continue
        archive.write(path, pathlib.Path("transformers") / rel)
print(f"gpu_prepare: {out} {out.stat().st_size / 2**20:.1f} MiB (transformers {transformers.__version__})")
PY
cp engine/models/infill-small/tokenizer.json runs/tokenizer/tokenizer.json
if [ "${1:-}" = "--corpus" ]; then
  .venv/bin/infill train corpus fetch
  .venv/bin/infill train corpus build --sources-dir .cache/corpus-sources \
    --site-packages .venv/lib/python3.11/site-packages --out corpus --max-compressed-mb 8 --max-shard-mb 8 --seed 0
fi
du -sh .gpu runs/tokenizer corpus 2>/dev/null || true
echo "gpu_prepare: carry .gpu runs/tokenizer corpus (64 MiB in all at most)"
