#!/usr/bin/env bash
# Everything CI checks: set up, then the package tests, the notebooks under
# nbval, notebook hygiene, the student notebooks and the slide decks.
set -euo pipefail
EXTRAS=test source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
export TQDM_DISABLE=1  # progress bars would flood the log

echo "==> notebooks are committed without outputs"
nbstripout --verify notebooks/*.ipynb || {
    echo "some notebooks have outputs: run 'nbstripout notebooks/*.ipynb' and commit" >&2; exit 1; }

echo "==> package tests"
python -m pytest tests minillm  # the package tests, then the doctests in the package

echo "==> notebooks, top to bottom (nbval)"
python -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=600 -p no:cacheprovider notebooks

echo "==> student notebooks"
python scripts/make_student.py --out student

echo "==> slide decks"
python scripts/build_slides.py
