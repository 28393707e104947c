#!/usr/bin/env bash
# The GPU check lane: the GPU-marked tests, the Triton kernels' tests compiled on the GPU,
# the attention benchmark (Triton vs SDPA at batch 1, 16 heads, D 64, causal), the training
# benchmark with the gpu preset and every notebook's GPU settings, then a short report.
#   bash scripts/gpu_check.sh REPORT_DIR
# Runs with the current Python (python3, or $PYTHON), which must have PyTorch
# with CUDA and minillm's dependencies; it installs nothing and needs no
# internet, but the corpora must already be built in data/cache (run
# `python data/build.py` where there is internet, then bring data/cache along).
# Without a GPU the tests skip, the report says so, and it exits 0.
# REPORT_DIR gets report.md (GPU, versions, figures) and one log per step.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:?usage: bash scripts/gpu_check.sh REPORT_DIR}
mkdir -p "$out"
py=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" TQDM_DISABLE=1 PYTHONUNBUFFERED=1 MPLBACKEND=Agg
report="$out/report.md"

"$py" - >"$report" <<'PY'
import datetime, platform
import torch
try:
    import triton
    triton_version = triton.__version__
except ImportError:
    triton_version = "not installed"
gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none (CUDA not available)"
print(f"# GPU check, {datetime.datetime.now():%Y-%m-%d %H:%M}\n")
print(f"- GPU: {gpu}")
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"- compute capability {p.major}.{p.minor}, {p.total_memory / 2**30:.0f} GiB, "
          f"bf16 {'yes' if torch.cuda.is_bf16_supported() else 'no'}")
print(f"- Python {platform.python_version()}, torch {torch.__version__} (CUDA {torch.version.cuda}), "
      f"triton {triton_version}")
PY
echo >>"$report"
echo "| step | result | seconds |" >>"$report"
echo "| --- | --- | --- |" >>"$report"

status=0
step() {  # step NAME COMMAND...: run it, log to NAME.log, add a row to the report
    local name=$1 t0=$SECONDS rc
    shift
    echo "==> $name: $*"
    "$@" >"$out/$name.log" 2>&1
    rc=$?
    echo "| $name | $([ $rc = 0 ] && echo pass || echo "FAIL (exit $rc)") | $((SECONDS - t0)) |" >>"$report"
    [ $rc = 0 ] || status=1
}

# only the files that hold GPU tests: collecting the others needs test-only packages (nbformat, faker, ...)
# that a bare GPU machine may lack
step gpu_tests "$py" -m pytest -m gpu $(grep -l "mark.gpu" tests/test_*.py) -q -p no:cacheprovider
if ! "$py" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
    printf '\nNo CUDA GPU here: the GPU tests skipped, nothing else ran.\n' >>"$report"
    cat "$report"
    exit $status
fi
step kernels "$py" -m pytest tests/test_kernels.py tests/test_flash.py tests/test_attention.py \
    tests/test_exercises_triton_softmax.py -q -p no:cacheprovider  # the exercise checker's kernels, compiled
step attention "$py" benchmarks/attention.py --lengths 1024 4096 16384 --head-dims 64 --causal only --repeats 5 \
    --json "$out/attention.json"
step benchmark "$py" benchmarks/train_shakespeare_char.py --preset gpu
step notebooks "$py" scripts/run_notebook.py notebooks/*.ipynb

{
    printf '\n## Figures\n\n```\n'
    tail -n 1 "$out/gpu_tests.log"
    tail -n 1 "$out/kernels.log"
    grep -E '^ +64 +True' "$out/attention.log"
    grep -E '^(preset|val loss|wall time|throughput)' "$out/benchmark.log"
    grep -E 'ran every cell in' "$out/notebooks.log"
    printf '```\n'
} >>"$report"
cat "$report"
exit $status
