# Sourced by quickstart.sh and test.sh: make (or reuse) the virtual environment
# .venv with minillm installed in it, and activate it.
#   EXTRAS=test  also installs what the tests need (requirements-test.txt).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "minillm needs Python 3.10 or newer; found: $("$PYTHON" --version 2>&1). Set PYTHON=/path/to/python3.x" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "==> creating the virtual environment .venv"
    "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate
reqs=requirements.txt
[ "${EXTRAS:-}" = test ] && reqs=requirements-test.txt
echo "==> installing minillm and $reqs into .venv (quick when already installed)"
python -m pip install -q --disable-pip-version-check -r "$reqs" -c constraints.txt
python -m pip install -q --disable-pip-version-check --no-deps -e .
