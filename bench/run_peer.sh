#!/usr/bin/env bash
# Runs the APScheduler 3 peer benchmark (bench/peer_apscheduler.py) side by side with
# schedlite-bench on the same machine. Creates bench/.venv on first use and installs
# `apscheduler<4` and `sqlalchemy` into it from PyPI. Arguments go to the Python script:
#   bench/run_peer.sh                    # burst, idle, list; journal delete and wal; 3 runs
#   bench/run_peer.sh --runs 1 --journal wal
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import apscheduler, sqlalchemy' 2>/dev/null; then
    "$venv/bin/pip" install --quiet 'apscheduler<4' sqlalchemy
fi
exec "$venv/bin/python" "$here/peer_apscheduler.py" "$@"
