#!/usr/bin/env bash
# Set everything up (OS packages, test tools, netemu) and run the whole test suite.
#   bash scripts/test.sh [pytest args…]      (as root: integration tests build real namespaces)
# Once provisioned it runs offline: provision.sh reinstalls nothing unless pyproject.toml changed.
# The kernel-dependent tests on Debian's stock kernel (netem): bash scripts/vm-test.sh (.ci/run runs both).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash vagrant/provision.sh --test
VENV="${NETEMU_VENV:-/opt/netemu/venv}"
exec "$VENV/bin/python" -m pytest -rs "$@"
