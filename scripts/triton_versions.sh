#!/usr/bin/env bash
# The Triton kernels across Triton releases, on a CPU: for each version (default: 3.2.0 to 3.9.0, the
# releases recent PyTorch ships with), install it in a small environment layered on the project's .venv,
# then run the kernels' tests in Triton's interpreter and the ahead-of-time shared-memory check for
# sm_75/80/90 (tests/test_kernels.py, tests/test_exercises_triton_softmax.py), and print one line each.
#   bash scripts/triton_versions.sh [VERSION ...]
# Before 3.7, Triton's interpreter needs numpy < 2.4 (minillm.kernels.interpreter_problem), so those
# environments also get it. Needs the project's .venv (scripts/setup.sh) and PyPI. About 2 minutes per
# version on 2 cores; the environments stay in $TMPDIR/minillm-triton-versions for the next run. Not
# part of CI: it downloads.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.2.0 3.3.1 3.4.0 3.5.1 3.6.0 3.7.1 3.8.0 3.9.0)
base=$(.venv/bin/python -c 'import site; print(site.getsitepackages()[0])') || {
    echo "no .venv here: run 'source scripts/setup.sh' first" >&2; exit 2; }
work=${TMPDIR:-/tmp}/minillm-triton-versions
results=()
status=0
for v in "${versions[@]}"; do
    env=$work/$v
    if [ ! -x "$env/bin/python" ]; then
        echo "==> Triton $v: a new environment in $env"
        .venv/bin/python -m venv "$env" || exit 2
        site=$("$env/bin/python" -c 'import site; print(site.getsitepackages()[0])')
        # the project's packages (torch, pytest, ...) behind this environment's own, which hold only Triton
        echo "import site; site.addsitedir('$base')" >"$site/minillm-base.pth"
        packages=("triton==$v")
        .venv/bin/python -c 'import sys; sys.exit(tuple(map(int, sys.argv[1].split(".")[:2])) >= (3, 7))' "$v" &&
            packages+=("numpy<2.4")
        "$env/bin/python" -m pip install -q --no-deps "${packages[@]}" || {
            results+=("$v: could not install"); status=1; continue; }
    fi
    echo "==> Triton $v"
    log=$work/$v.log
    t0=$SECONDS
    "$env/bin/python" -m pytest -q -p no:cacheprovider tests/test_kernels.py tests/test_exercises_triton_softmax.py \
        >"$log" 2>&1
    rc=$?
    found=$("$env/bin/python" -c 'import numpy, triton; print(triton.__version__, "with numpy", numpy.__version__)')
    results+=("Triton $found: $(tail -n 1 "$log" | tr -d '=' | sed 's/^ *//') ($((SECONDS - t0)) s)")
    [ $rc = 0 ] || { status=1; echo "    failed: see $log"; }
done
printf '\n%s\n' "${results[@]}"
exit $status
