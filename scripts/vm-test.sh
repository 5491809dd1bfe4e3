#!/usr/bin/env bash
# Runs netemu's kernel-dependent tests inside a Debian 12 VM with Debian's stock kernel (netem path).
#
#   sudo bash scripts/vm-test.sh              # link emulation, scenarios, netfilter, lab tests
#   sudo bash scripts/vm-test.sh --all        # the whole suite
#   sudo bash scripts/vm-test.sh -- -k rate   # extra pytest arguments after --
#   sudo bash scripts/vm-test.sh --offline    # the guest has no network at all (provisioning must not need it)
#
# Builds the image with vm/build-image.sh (mmdebstrap, Debian's packages only) or reuses the cached
# one whose inputs (build script, provision.sh, pyproject.toml, mirror) are unchanged; boots it headless
# with QEMU — KVM when it can run a stock kernel, else software emulation (TCG) — with user-mode
# networking only (no bridge, tap or route on the host); inside, runs vagrant/provision.sh --test and
# pytest on this working tree; brings back a summary and the logs. Exit 0 only when the tests passed.
#
# Environment: NETEMU_VM_CACHE (default /var/cache/netemu-vm), NETEMU_VM_ACCEL (auto|kvm|tcg),
# NETEMU_VM_CPUS (2), NETEMU_VM_MEM (MiB, 4096), NETEMU_VM_TIMEOUT (seconds, 3600),
# NETEMU_VM_LOGS (default reports/vm), NETEMU_VM_REBUILD=1 (build even when cached),
# NETEMU_VM_IMAGE=DIR (boot the image in DIR as it is, e.g. one built by hand with vm/build-image.sh).
set -euo pipefail

# The whole script is one function, read before it runs: editing the file during a run (e.g. a
# `git pull` while the VM works) cannot change what this run executes.
main() {
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"

TESTS="tests/linkemu tests/scenarios tests/netfilter tests/test_lab.py"
[ -d tests/labtest ] && TESTS="$TESTS tests/labtest"
pytest_args=()
netopt=""
while [ $# -gt 0 ]; do
  case "$1" in
    --all) TESTS="tests" ;;
    --rebuild) NETEMU_VM_REBUILD=1 ;;
    --offline) netopt=",restrict=on" ;;
    --) shift; pytest_args=("$@"); break ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "vm-test.sh: unknown option $1 (pytest arguments go after --)" >&2; exit 2 ;;
  esac
  shift
done

CACHE="${NETEMU_VM_CACHE:-/var/cache/netemu-vm}"
CPUS="${NETEMU_VM_CPUS:-2}"
MEM="${NETEMU_VM_MEM:-4096}"
TIMEOUT="${NETEMU_VM_TIMEOUT:-3600}"
LOGS="${NETEMU_VM_LOGS:-$repo/reports/vm}"
say() { echo "vm-test: $*"; }
die() { echo "vm-test: cannot run the VM: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run it as root (the image is built with mmdebstrap --mode=root)"
# The host's tools, installed like provision.sh installs the rest (a fresh machine needs only this clone).
HOST_PACKAGES=(mmdebstrap qemu-system-x86 qemu-utils e2fsprogs git)
missing=()
for p in "${HOST_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing the VM tools: ${missing[*]}"
  { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
    | { grep -E --line-buffered '^(Get|Setting up|E:)' || true; } || die "apt-get could not install ${missing[*]}"
fi
for tool in qemu-system-x86_64 qemu-img mmdebstrap mkfs.ext4 git; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install ${HOST_PACKAGES[*]})"
done
start=$SECONDS

# --- accelerator: KVM only where it can boot Debian's stock kernel -------------------------------
kvm_unusable() {  # prints why KVM cannot be used, nothing if it can
  if [ ! -c /dev/kvm ]; then echo "no /dev/kvm"; return; fi
  if ! { exec 9<>/dev/kvm; } 2>/dev/null; then echo "/dev/kvm cannot be opened"; return; fi
  exec 9>&-
  # PVM (paravirtualised KVM inside a cloud VM) only runs guest kernels built for it: Debian's
  # kernel aborts ("failed to set MSR 0x10a") or hangs.
  if [ -d /sys/module/kvm_pvm ]; then echo "/dev/kvm is PVM (kvm_pvm), which cannot boot a stock kernel"; return; fi
  if ! grep -qwE 'vmx|svm' /proc/cpuinfo; then echo "the CPU has no vmx/svm (no hardware virtualisation)"; return; fi
}
case "${NETEMU_VM_ACCEL:-auto}" in
  kvm) accel=(-accel kvm -cpu host); how="kvm (forced by NETEMU_VM_ACCEL)" ;;
  tcg) accel=(-accel tcg,thread=multi -cpu max); how="tcg (forced by NETEMU_VM_ACCEL)" ;;
  auto)
    why="$(kvm_unusable)"
    if [ -z "$why" ]; then accel=(-accel kvm -cpu host); how="kvm"
    else accel=(-accel tcg,thread=multi -cpu max); how="tcg, software emulation (KVM not used: $why)"; fi ;;
  *) echo "vm-test.sh: NETEMU_VM_ACCEL must be auto, kvm or tcg" >&2; exit 2 ;;
esac
say "accelerator: $how"

# --- the image, keyed by everything it is built from ---------------------------------------------
cached_image() {  # sets $image: the cached image for the current inputs, built first when missing
  mkdir -p "$CACHE"
  local key
  key="$( { cat vm/build-image.sh vagrant/provision.sh pyproject.toml; echo "${NETEMU_VM_MIRROR:-}"; } \
          | sha256sum | cut -c1-16)"
  image="$CACHE/debian12-$key"
  exec 8>"$CACHE/.lock"
  flock 8   # one build at a time; a second run waits, then reuses it
  if [ -f "$image/disk.qcow2" ] && [ "${NETEMU_VM_REBUILD:-0}" != 1 ]; then
    say "image: $image (cached, reused)"
  else
    say "image: building $image (cold: a few minutes)"
    local t=$SECONDS
    rm -rf "$image.tmp" "$image"
    nice -n 10 bash vm/build-image.sh "$image.tmp" || { rm -rf "$image.tmp"; die "building the image failed (output above)"; }
    mv "$image.tmp" "$image"
    say "image built in $(( SECONDS - t )) s"
  fi
  touch "$image"
  # Keep the two most recently used images; older keys are stale inputs.
  ls -1dt "$CACHE"/debian12-* 2>/dev/null | grep -v '\.tmp$' | tail -n +3 | while read -r old; do
    say "removing stale image $old"; rm -rf "$old"
  done
  exec 8>&-
}
if [ -n "${NETEMU_VM_IMAGE:-}" ]; then
  image="$NETEMU_VM_IMAGE"
  [ -f "$image/disk.qcow2" ] || die "NETEMU_VM_IMAGE=$image holds no disk.qcow2"
  say "image: $image (given by NETEMU_VM_IMAGE)"
else
  cached_image
fi

# --- the run ----------------------------------------------------------------------------------------
tmp="$(mktemp -d /var/tmp/netemu-vm-run.XXXXXX)"
qemu_pid=""
cleanup() {
  if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
    # $qemu_pid is `timeout`, which passes the signal on to QEMU and exits with it
    kill "$qemu_pid" 2>/dev/null; sleep 2; kill -9 "$qemu_pid" 2>/dev/null
  fi
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

share="$tmp/share"
mkdir -p "$share/repo" "$share/out"
# This working tree as it is (tracked and untracked files, not the ignored ones).
git ls-files -co --exclude-standard -z | tar -c --null --ignore-failed-read -T - 2>/dev/null | tar -x -C "$share/repo"
{
  printf 'NETEMU_VM_TESTS=%q\n' "$TESTS"
  # an array, each argument quoted: `-k "a or b"` stays one argument
  printf 'NETEMU_VM_PYTEST_ARGS=('
  [ "${#pytest_args[@]}" -gt 0 ] && printf '%q ' "${pytest_args[@]}"
  printf ')\n'
  printf 'VM_HTTP_PROXY=%q\nVM_HTTPS_PROXY=%q\n' "${http_proxy:-}" "${https_proxy:-}"
} > "$share/env"

console="$tmp/console.log"
: > "$console"
say "booting: $CPUS vCPUs, $MEM MiB, user-mode networking${netopt:+ without any route out (--offline)}; guest console follows"
# -snapshot: the guest's writes go to a throwaway overlay in $TMPDIR, the cached image stays pristine.
# ipv6=off: QEMU's router advertisements would put an expiring route in the guest's host namespace,
# which the tests compare before and after each lab.
# nice: under TCG the VM keeps every core busy; the host's other work goes first.
# timeout: the run's time limit (QEMU gets SIGTERM, then SIGKILL 10 s later).
TMPDIR="$tmp" timeout --kill-after=10 "$TIMEOUT" nice -n 10 qemu-system-x86_64 -name netemu-vm "${accel[@]}" -smp "$CPUS" -m "$MEM" \
  -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
  -append "root=/dev/vda rw console=ttyS0 quiet loglevel=3 systemd.show_status=0 panic=-1 netemu.run=1" \
  -drive "file=$image/disk.qcow2,if=virtio,format=qcow2" -snapshot \
  -netdev "user,id=net0,ipv6=off$netopt" -device virtio-net-pci,netdev=net0 \
  -virtfs "local,path=$share,mount_tag=host,security_model=none,id=host" \
  -device virtio-rng-pci -display none -monitor none -serial "file:$console" -no-reboot &
qemu_pid=$!
tail -n +1 -f --pid="$qemu_pid" "$console" 2>/dev/null || true
qemu_rc=0
wait "$qemu_pid" || qemu_rc=$?
qemu_pid=""
[ "$qemu_rc" = 124 ] && echo "vm-test: timeout after $TIMEOUT s: the VM was stopped" >&2

# --- results ----------------------------------------------------------------------------------------
rm -rf "$LOGS"; mkdir -p "$LOGS"
cp -a "$share/out/." "$LOGS/" 2>/dev/null || true
cp "$console" "$LOGS/console.log"
echo
say "=== summary ==="
say "accelerator: $how"
[ -f "$LOGS/summary.txt" ] && sed 's/^netemu-vm: /vm-test: /' "$LOGS/summary.txt"
say "logs: $LOGS (console.log, provision.log, doctor.log, pytest.log, junit.xml)"
say "total: $(( SECONDS - start )) s"
if [ ! -f "$LOGS/exit-code" ]; then
  echo "vm-test: the VM did not finish its run (QEMU exit $qemu_rc): see $LOGS/console.log" >&2
  exit 1
fi
rc="$(cat "$LOGS/exit-code")"
[ "$rc" = 0 ] || { echo "vm-test: tests FAILED in the VM (exit $rc)" >&2; exit 1; }
say "passed"
}

main "$@"
