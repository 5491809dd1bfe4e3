#!/usr/bin/env bash
# Installs everything netemu needs on a fresh Debian 12 / Ubuntu 24.04 machine, from nothing.
# Idempotent: run it again at any time.
#
#   bash vagrant/provision.sh           # as root: OS packages + netemu in /opt/netemu/venv, `netemu` on PATH
#   bash vagrant/provision.sh --test    # also the test tools (pytest, unbound, bind9, dnsperf)
#   bash vagrant/provision.sh --list-packages [--test]   # print the OS packages it installs, and exit
#
# A second run changes nothing and needs no network: apt runs only for missing packages, pip only
# when pyproject.toml, the repository or the extras changed since the last install.
#
# Environment: NETEMU_VENV (default /opt/netemu/venv), NETEMU_REPO (default: this script's repository).
set -euo pipefail

WITH_TEST=0
LIST=0
for arg in "$@"; do
  case "$arg" in
    --test) WITH_TEST=1 ;;
    --list-packages) LIST=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "provision.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

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
# `vagrant validate` checks the Vagrantfile offline (tests/test_vm_files.py).
TEST_PACKAGES+=(vagrant)

wanted=("${PACKAGES[@]}")
[ "$WITH_TEST" = 1 ] && wanted+=("${TEST_PACKAGES[@]}")
if [ "$LIST" = 1 ]; then
  printf '%s\n' "${wanted[@]}"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "provision.sh installs OS packages: run it as root (e.g. sudo bash vagrant/provision.sh)" >&2
  exit 1
fi
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
  # -q: one line per download and per unpacked/configured package (progress without the bars
  # that garble a log); the whole install can take minutes on a slow mirror.
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}" \
    | { grep -E --line-buffered '^(Get|Unpacking|Setting up|E:|W:)' || true; }
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
# FRR's compiled-in run directory, where netemu shows each router's daemons their own directory (a
# bind mount private to them). systemd-tmpfiles makes it at boot; a machine without systemd loses it
# when /run is cleared, so make it here as the package would.
if getent passwd frr >/dev/null && [ ! -d /run/frr ]; then
  install -d -o frr -g frr -m 755 /run/frr
fi

# Debian's own python3 (3.11 on Debian 12), so the venv never depends on a user's pyenv/conda.
PY=/usr/bin/python3
[ -x "$PY" ] || PY="$(command -v python3)"
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV"
fi
extra=""
[ "$WITH_TEST" = 1 ] && extra="[test]"
# pip's build isolation downloads setuptools on every `install -e`: reinstall only when what the
# install depends on changed (dependencies, entry points, the extras, the repository's place), so a
# provisioned machine runs the tests offline. Source edits need no reinstall: the install is editable.
stamp="$VENV/.netemu-install"
want="$(sha256sum "$REPO/pyproject.toml" | cut -d' ' -f1) $REPO$extra"
installed_from() {  # where the venv imports netemu from (run from / so the cwd cannot shadow it)
  (cd / && "$VENV/bin/python" -c 'import netemu, os; print(os.path.dirname(os.path.dirname(netemu.__file__)))' 2>/dev/null)
}
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && [ -x "$VENV/bin/netemu" ] && [ "$(installed_from)" = "$REPO" ]; then
  echo "==> netemu already installed from $REPO$extra (pyproject.toml unchanged)"
else
  echo "==> installing netemu from $REPO$extra"
  rm -f "$stamp"
  "$VENV/bin/pip" install --disable-pip-version-check --progress-bar off -e "$REPO$extra" \
    | { grep -E --line-buffered '^(Collecting|Successfully)' || true; }
  echo "$want" > "$stamp"
fi
# An editable install leaves netemu's own modules uncompiled (a regular pip install compiles them);
# precompile so every command starts from bytecode even where PYTHONDONTWRITEBYTECODE is set.
"$VENV/bin/python" -m compileall -q "$REPO/netemu" >/dev/null
ln -sf "$VENV/bin/netemu" /usr/local/bin/netemu
echo "==> ready: $("$VENV/bin/netemu" --version)"
