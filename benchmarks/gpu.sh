#!/usr/bin/env bash
# The prepared GPU benchmark (issue 16): Table 6 for every backbone x fusion in fp32 and bf16,
# BERT-base at L=320, training steps, peak memory and the projected GPU-hours of the paper's
# sweeps (benchmarks/gpu.py says what each figure is). Three uses:
#   bash benchmarks/gpu.sh --prepare   # here, once: wheels the GPU image lacks and the
#                                      # tokenizer, into .gpu/ (ignored; carry it)
#   bash benchmarks/gpu.sh             # on the GPU machine, under 8 minutes
#   bash benchmarks/gpu.sh --dry-run   # tiny sizes on the CPU, seconds (make test runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"  # the interpreter to use (the test passes its own)
if [[ "${1:-}" == "--prepare" ]]; then
  rm -rf .gpu && mkdir -p .gpu/wheels
  # Pure-Python wheels of what the GPU image lacks (it has torch, transformers, lightning).
  "$PYTHON" -m pip wheel -q --no-deps -w .gpu/wheels omegaconf==2.3.0 antlr4-python3-runtime==4.9.3
  "$PYTHON" -c "from personafuse.features import BertFeaturizer
BertFeaturizer().tokenizer.save_pretrained('.gpu/tokenizer')"
  du -sh .gpu
  exit 0
fi
if [[ -d .gpu/wheels ]] && ! "$PYTHON" -c "import omegaconf" 2>/dev/null; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --target /tmp/personafuse-site \
    .gpu/wheels/*.whl
  export PYTHONPATH="/tmp/personafuse-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
tokenizer=()
if [[ -d .gpu/tokenizer ]]; then tokenizer=(--tokenizer .gpu/tokenizer); fi
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi
exec "$PYTHON" benchmarks/gpu.py "${tokenizer[@]}" "$@"
