#!/usr/bin/env bash
# Simulate N machines on this host to try a lab across machines (root; needs openssh-server installed).
# Each machine is a network namespace on an underlay bridge of its own (never the host's namespace),
# with a private /run (its own /run/netns, /run/netemu) and /etc/netns, and a real sshd bound to its
# underlay address; the coordinator is one more namespace that reaches them with ssh and generated keys.
#
#   sudo scripts/sim-machines.sh up /tmp/sim 3         # prints the inventory and how to enter the coordinator
#   sudo nsenter -t PID -m -n -- netemu up topologies/internet.yaml --hosts /tmp/sim/inventory.yaml
#   sudo nsenter -t PID -m -n -- netemu exec internet alice -- ping -c 2 192.0.2.80
#   sudo nsenter -t PID -m -n -- netemu down internet
#   sudo scripts/sim-machines.sh down /tmp/sim          # stops the machines, removes their namespaces
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
py="${NETEMU_PYTHON:-/opt/netemu/venv/bin/python}"
[ -x "$py" ] || py=python3
exec "$py" "$here/tests/multi/sim.py" "$@"
