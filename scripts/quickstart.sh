#!/usr/bin/env bash
# The main job: set up, build the Shakespeare corpus, train the CPU preset of
# the tiny GPT (a few minutes on a laptop), print samples and where the
# checkpoint went. Extra arguments go to `python -m minillm train`, e.g.
#   bash scripts/quickstart.sh --preset gpu
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
echo "==> training (python -m minillm train --preset cpu $*)"
python -m minillm train --preset cpu "$@"
