#!/bin/bash
# Runs inside the test VM (started at boot by the image's netemu-vm-run service):
#   bash guest-run.sh SHARE
# SHARE (the host's 9p share) holds repo/ (the tree under test), env (settings written by
# scripts/vm-test.sh) and out/ (logs and summary brought back to the host).
# Steps: the tree to /vagrant, `vagrant/provision.sh --test` (as Vagrant runs it), `netemu doctor`,
# pytest on the tests chosen by the host, then `netemu check` on a 10 ms / 20 Mbit/s link. Exit status: pytest's, or 3 when provisioning failed.
set -uo pipefail
share=$1
out="$share/out"
mkdir -p "$out"
# shellcheck source=/dev/null
NETEMU_VM_PYTEST_ARGS=()
. "$share/env"   # NETEMU_VM_TESTS, NETEMU_VM_PYTEST_ARGS (an array), proxy variables
export http_proxy="${VM_HTTP_PROXY:-}" https_proxy="${VM_HTTPS_PROXY:-}"
[ -n "$http_proxy" ] || unset http_proxy
[ -n "$https_proxy" ] || unset https_proxy

say() { echo "netemu-vm: $*" | tee -a "$out/summary.txt"; }
t0=$SECONDS
say "guest up: Debian $(cat /etc/debian_version), kernel $(uname -r), $(nproc) vCPUs, $(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 )) MiB, booted in $(cut -d' ' -f1 /proc/uptime | cut -d. -f1) s"

rm -rf /vagrant && cp -a "$share/repo" /vagrant
if timeout 10 getent hosts deb.debian.org >/dev/null 2>&1; then say "network: the Debian archive resolves"
else say "network: none (no DNS answer for deb.debian.org)"; fi

t=$SECONDS
if NETEMU_REPO=/vagrant bash /vagrant/vagrant/provision.sh --test > >(tee "$out/provision.log") 2>&1; then
  say "provision.sh --test: ok in $(( SECONDS - t )) s"
else
  say "provision.sh --test: FAILED after $(( SECONDS - t )) s (see provision.log)"
  exit 3
fi

netemu doctor 2>&1 | tee "$out/doctor.log"
say "link-emulation backend: $(cd / && /opt/netemu/venv/bin/python -c 'from netemu.linkemu import caps; print(caps.backend())' 2>&1 | tail -1)"

cd /vagrant || exit 3
t=$SECONDS
read -r -a tests <<< "$NETEMU_VM_TESTS"
extra=("${NETEMU_VM_PYTEST_ARGS[@]}")
# Whole run in the log; the console shows pytest's progress line per file.
/opt/netemu/venv/bin/python -m pytest -rs -p no:cacheprovider --junitxml="$out/junit.xml" \
  "${tests[@]}" "${extra[@]}" 2>&1 | tee "$out/pytest.log"
rc=${PIPESTATUS[0]}
say "pytest ${tests[*]}: $(grep -E '^=+ .*(passed|failed|error|skipped).* in ' "$out/pytest.log" | tail -1 | tr -d '=' | sed 's/^ *//;s/ *$//') (exit $rc, $(( SECONDS - t )) s)"
# The rate limiter and delay measured on this kernel, as a user sees them (netemu check).
cat > /tmp/vmcheck.yaml <<'YAML'
name: vmcheck
nodes: {a: {}, b: {}}
links:
  - endpoints: ["a:eth0 10.99.0.1/24", "b:eth0 10.99.0.2/24"]
    delay: 10ms
    bandwidth: 20mbit
YAML
if netemu up /tmp/vmcheck.yaml >/dev/null; then
  netemu check vmcheck 2>&1 | tee "$out/check.log" | sed 's/^/netemu-vm: check: /' | tee -a "$out/summary.txt"
  netemu down vmcheck >/dev/null
fi
say "guest total: $(( SECONDS - t0 )) s after boot"
exit "$rc"
