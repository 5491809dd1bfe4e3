#!/usr/bin/env bash
# Set everything up (OS packages, test tools, netemu) and run the whole test suite.
#   bash scripts/test.sh [pytest args…]      (as root: integration tests build real namespaces)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash vagrant/provision.sh --test
VENV="${NETEMU_VENV:-/opt/netemu/venv}"
exec "$VENV/bin/python" -m pytest -rs "$@"
