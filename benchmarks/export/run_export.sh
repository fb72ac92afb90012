#!/usr/bin/env bash
# Export and recommend on real data: makes benchmarks/.venv with numpy (pinned as in
# benchmarks/speed/requirements.txt) if it lacks it, then runs run_export.py with the arguments
# given (search directories; see its --help).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"; repo="$(cd "$here/../.." && pwd)"
venv="$repo/benchmarks/.venv"
[ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -c "import numpy" 2>/dev/null ||
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "$(grep '^numpy==' "$repo/benchmarks/speed/requirements.txt")"
exec "$venv/bin/python" "$here/run_export.py" "$@"
