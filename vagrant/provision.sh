#!/usr/bin/env bash
# Installs everything netemu needs on a fresh Debian 12 / Ubuntu 24.04 machine, from nothing.
# Idempotent: run it again at any time.
#
#   bash vagrant/provision.sh           # as root: OS packages + netemu in /opt/netemu/venv, `netemu` on PATH
#   bash vagrant/provision.sh --test    # also the test tools (pytest, unbound, bind9, dnsperf)
#
# Environment: NETEMU_VENV (default /opt/netemu/venv), NETEMU_REPO (default: this script's repository).
set -euo pipefail

WITH_TEST=0
for arg in "$@"; do
  case "$arg" in
    --test) WITH_TEST=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "provision.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "provision.sh installs OS packages: run it as root (e.g. sudo bash vagrant/provision.sh)" >&2
  exit 1
fi

REPO="${NETEMU_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
VENV="${NETEMU_VENV:-/opt/netemu/venv}"
export DEBIAN_FRONTEND=noninteractive

# Tools netemu drives, and the ones people run inside nodes.
PACKAGES=(iproute2 iptables iputils-ping iputils-tracepath tcpdump iperf3 dnsutils ethtool conntrack
          curl procps kmod python3 python3-venv python3-pip ca-certificates)
PACKAGES+=(fping traceroute)   # netemu test: all-pairs ping, the hop where a path stops
# netemu capture: dumpcap (one pcapng naming each packet's interface) and tshark (its live decode).
PACKAGES+=(tshark)
# FRR: the routing daemons of `routing: ospf|bgp`, run by netemu inside router namespaces only.
PACKAGES+=(frr)
# Independent DNS software the tests compare netemu against.
TEST_PACKAGES=(unbound bind9 dnsperf nsd)
PACKAGES+=(graphviz)   # netemu graph: SVG/HTML/PNG pictures of a lab (dot, mermaid need nothing)
# A lab across several machines: the tests simulate machines, each running its own sshd (never the host's service).
TEST_PACKAGES+=(openssh-server openssh-client)

wanted=("${PACKAGES[@]}")
[ "$WITH_TEST" = 1 ] && wanted+=("${TEST_PACKAGES[@]}")
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> installing OS packages: ${missing[*]}"
  # The DNS daemons are only run by hand inside lab namespaces: keep their distro services from
  # starting on the host while they are installed (restored right after).
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; own_policy=1
  fi
  trap '[ "$own_policy" = 1 ] && rm -f "$policy"' EXIT
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    for svc in unbound named bind9 frr; do
      systemctl disable --now "$svc" >/dev/null 2>&1 || true
    done
  fi
fi

# FRR's daemons drop root for the user frr and refuse to start unless it is in the group frrvty
# (Debian's package sets this up; make sure on machines where it was changed).
if getent group frrvty >/dev/null && getent passwd frr >/dev/null && ! id -nG frr | grep -qw frrvty; then
  usermod -a -G frrvty frr
fi

# Debian's own python3 (3.11 on Debian 12), so the venv never depends on a user's pyenv/conda.
PY=/usr/bin/python3
[ -x "$PY" ] || PY="$(command -v python3)"
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV"
fi
echo "==> installing netemu from $REPO"
extra=""
[ "$WITH_TEST" = 1 ] && extra="[test]"
"$VENV/bin/pip" install -q --disable-pip-version-check -e "$REPO$extra"
# An editable install leaves netemu's own modules uncompiled (a regular pip install compiles them);
# precompile so every command starts from bytecode even where PYTHONDONTWRITEBYTECODE is set.
"$VENV/bin/python" -m compileall -q "$REPO/netemu" >/dev/null
ln -sf "$VENV/bin/netemu" /usr/local/bin/netemu
echo "==> ready: $(netemu --version)"
