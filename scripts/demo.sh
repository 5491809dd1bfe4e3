#!/usr/bin/env bash
# Set everything up, then show netemu working: two hosts behind two routers, a 1400-byte hop
# between the routers, ping and Path MTU discovery across it, and a clean teardown.
#   bash scripts/demo.sh            (as root)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash vagrant/provision.sh
TOPO=topologies/two-routers.yaml
LAB=two-routers
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

netemu down "$LAB" >/dev/null 2>&1 || true
trap 'netemu down "$LAB" >/dev/null 2>&1 || true' EXIT
say netemu validate "$TOPO"
say netemu up "$TOPO"
say netemu status "$LAB" r1
say netemu exec "$LAB" h1 -- ping -c 3 10.0.2.2
say netemu exec "$LAB" h1 -- ping -6 -c 2 2001:db8:2::2
echo; echo "A full-size packet with Don't Fragment set meets the 1400-byte hop: r1 answers 'Frag needed'."
say netemu exec "$LAB" h1 -- ping -c 1 -M do -s 1472 10.0.2.2 || true
echo; echo "h1's kernel now caches the path MTU (1400) for 10.0.2.2: tracepath would start from it. Flush the cache,"
echo "and tracepath finds the narrow hop itself."
say netemu exec "$LAB" h1 -- ip route get 10.0.2.2
say netemu exec "$LAB" h1 -- ip route flush cache
say netemu exec "$LAB" h1 -- tracepath -n 10.0.2.2
say netemu down "$LAB"
trap - EXIT
echo; echo "Nothing is left behind: 'ip netns list' shows no $LAB-* namespace."
ip netns list | grep "^$LAB-" && exit 1 || true
