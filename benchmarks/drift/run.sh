#!/usr/bin/env bash
# The drift benchmark in one command: builds its two environments from their locks, then
# mara + Evidently (.venv), alibi-detect (alibi/.venv, numpy<2) on the same saved batches,
# and writes results.md, results.csv and detection.png beside this script.
#   UV=path/to/uv PYTHON=python3 WORK=scratch-dir bash benchmarks/drift/run.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
uv="${UV:-$root/.uv/bin/uv}"
python="${PYTHON:-python3}"

environment() {  # folder, lock
    [ -x "$1/bin/python" ] || "$uv" venv --quiet --python "$python" "$1"
    "$uv" pip sync --quiet --python "$1/bin/python" "$2"
}
environment "$here/.venv" "$here/requirements.lock"
"$uv" pip install --quiet --python "$here/.venv/bin/python" --no-deps -e "$root"
environment "$here/alibi/.venv" "$here/alibi/requirements.lock"

if [ -z "${WORK:-}" ]; then
    WORK="$(mktemp -d)"
    trap 'rm -rf "$WORK"' EXIT
fi
# one core per process: alibi-detect runs beside Evidently
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1

"$here/.venv/bin/python" "$here/bench.py" prepare --work "$WORK"
"$here/alibi/.venv/bin/python" "$here/alibi/run_alibi.py" --work "$WORK" &
alibi=$!
"$here/.venv/bin/python" "$here/bench.py" evidently --work "$WORK"
wait "$alibi"
"$here/.venv/bin/python" "$here/bench.py" report --work "$WORK"
