#!/usr/bin/env bash
# Install regjax with every direct dependency at its declared floor
# (uv --resolution lowest-direct) into a separate venv and run the tests there.
# Usage: tools/check_min_versions.sh [pytest args...]   (default: the non-slow suite)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${MINVENV:-/tmp/regjax-minvenv}"
PYTHON="${PYTHON:-python3.11}"
if [ ! -x "$VENV/uvtool/bin/uv" ]; then
  "$PYTHON" -m venv "$VENV/uvtool"
  "$VENV/uvtool/bin/pip" install --quiet uv
fi
UV="$VENV/uvtool/bin/uv"
"$UV" venv --clear -q -p "$PYTHON" "$VENV/env"
VIRTUAL_ENV="$VENV/env" "$UV" pip install -q --resolution lowest-direct -e ".[test]"
VIRTUAL_ENV="$VENV/env" "$UV" pip list 2>/dev/null \
  | grep -iE '^(jax|jaxlib|flax|optax|chex|numpy|scikit-learn|orbax-checkpoint|tqdm|pandas|matplotlib|jupytext|nbclient) '
# Every extra must import at its floor: a test that skips on a missing import
# would otherwise hide a floor that cannot work.
"$VENV/env/bin/python" -c "import optax, flax.nnx, chex, jaxopt, sklearn.linear_model, \
matplotlib.pyplot, tqdm, pandas, orbax.checkpoint, jupytext, nbclient"
if [ "$#" -eq 0 ]; then set -- -m "not slow" -q tests/ regjax/; fi
"$VENV/env/bin/python" -m pytest -p no:cacheprovider "$@"
