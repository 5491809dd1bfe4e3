#!/usr/bin/env bash
# Builds the Debian 12 test VM from Debian's packages only, natively (no VM needed to build it):
#
#   bash vm/build-image.sh OUTDIR     # as root; writes OUTDIR/{disk.qcow2,vmlinuz,initrd.img}
#
# The root filesystem is made by mmdebstrap with Debian's stock kernel, systemd and every OS package
# vagrant/provision.sh --test wants; then provision.sh itself runs in the chroot, so the image holds
# /opt/netemu/venv installed from a snapshot of this repository at /vagrant (where Vagrant puts it).
# The machine's extra CA certificates and apt/pip proxy settings are copied in, so apt and pip also
# work inside the VM behind the same proxy. The disk is a bare ext4 filesystem booted with QEMU's
# -kernel/-initrd: no partition table, no boot loader.
#
# Environment: NETEMU_VM_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

out=${1:?usage: build-image.sh OUTDIR}
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mirror="${NETEMU_VM_MIRROR:-http://deb.debian.org/debian}"
security="${mirror%/debian}/debian-security"
[ "$(id -u)" -eq 0 ] || { echo "build-image.sh: run it as root (mmdebstrap --mode=root, mkfs)" >&2; exit 1; }
for tool in mmdebstrap mkfs.ext4 qemu-img; do
  command -v "$tool" >/dev/null || { echo "build-image.sh: $tool missing (apt-get install mmdebstrap e2fsprogs qemu-utils)" >&2; exit 1; }
done

work="$(mktemp -d /var/tmp/netemu-vm-build.XXXXXX)"
root="$work/root"
cleanup() {
  # Never delete through a mount left in the chroot (e.g. /dev after a crash): unmount first, and
  # --one-file-system keeps rm on this filesystem whatever happens.
  findmnt -rn -o TARGET | { grep -F "$root/" || true; } | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

mapfile -t provision_pkgs < <(bash "$repo/vagrant/provision.sh" --list-packages --test)
# Stock kernel and init; netbase for /etc/protocols (iptables needs it); no recommends, kept small.
packages=(linux-image-amd64 initramfs-tools systemd-sysv udev netbase e2fsprogs "${provision_pkgs[@]}")

# The host's apt proxy settings (explicit proxies only; a transparent one needs nothing).
aptopts=()
while IFS= read -r line; do
  aptopts+=(--aptopt="$line")
done < <(apt-config dump 2>/dev/null | grep -iE '^Acquire::(http|https)::Proxy ' || true)

cat > "$work/customize.sh" <<'HOOK'
#!/usr/bin/env bash
# mmdebstrap customize hook: $1 is the new root filesystem; REPO and HOST_* come from the environment.
set -euo pipefail
r=$1
echo "==> configuring the image"
echo netemu > "$r/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 netemu\n::1 localhost ip6-localhost ip6-loopback\n' > "$r/etc/hosts"
echo '/dev/vda / ext4 defaults,noatime 0 1' > "$r/etc/fstab"
# QEMU user-mode networking: DHCP on the one NIC, its DNS forwarder at 10.0.2.3.
mkdir -p "$r/etc/systemd/network"
printf '[Match]\nName=en*\n\n[Network]\nDHCP=ipv4\n' > "$r/etc/systemd/network/10-qemu.network"
rm -f "$r/etc/resolv.conf"; echo 'nameserver 10.0.2.3' > "$r/etc/resolv.conf"
# The machine's proxy CA certificates and pip configuration (certificate path, index).
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$r/usr/local/share/ca-certificates/"
fi
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$r/etc/pip.conf"
chroot "$r" update-ca-certificates >/dev/null
# The test run: started at boot when the kernel command line asks for it, output on the serial console.
cat > "$r/usr/local/sbin/netemu-vm-run" <<'RUN'
#!/bin/bash
# Mounts the host's share (9p), runs its vm/guest-run.sh, powers off.
mkdir -p /mnt/host
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 host /mnt/host; then
  bash /mnt/host/repo/vm/guest-run.sh /mnt/host
  echo "$?" > /mnt/host/out/exit-code
  sync; umount /mnt/host
else
  echo "netemu-vm: cannot mount the host's 9p share"
fi
systemctl poweroff --force
RUN
chmod +x "$r/usr/local/sbin/netemu-vm-run"
cat > "$r/etc/systemd/system/netemu-vm-run.service" <<'UNIT'
[Unit]
Description=netemu test run from the host's share
ConditionKernelCommandLine=netemu.run=1
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/netemu-vm-run
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0

[Install]
WantedBy=multi-user.target
UNIT
chroot "$r" systemctl enable systemd-networkd systemd-networkd-wait-online netemu-vm-run >/dev/null 2>&1
# Nothing else competes for the (emulated) CPUs: no login prompts, periodic jobs or DNS daemons
# (the tests start their own unbound/named inside lab namespaces).
chroot "$r" systemctl mask serial-getty@ttyS0 getty@tty1 apt-daily.timer apt-daily-upgrade.timer \
  man-db.timer e2scrub_all.timer fstrim.timer unbound named bind9 unbound-resolvconf >/dev/null 2>&1 || true
# The repository at /vagrant, provisioned by the same script Vagrant runs.
mkdir -p "$r/vagrant"
(cd "$REPO" && git ls-files -co --exclude-standard -z | tar -c --null --ignore-failed-read -T - 2>/dev/null) | tar -x -C "$r/vagrant"
echo "==> provision.sh --test in the image"
# (mmdebstrap has mounted /proc, /sys and the device nodes in the chroot for its hooks.)
chroot "$r" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
  ${HOST_HTTP_PROXY:+http_proxy=$HOST_HTTP_PROXY} ${HOST_HTTPS_PROXY:+https_proxy=$HOST_HTTPS_PROXY} \
  NETEMU_REPO=/vagrant bash /vagrant/vagrant/provision.sh --test
HOOK
chmod +x "$work/customize.sh"

echo "==> mmdebstrap: Debian 12 (bookworm) from $mirror, ${#packages[@]} packages and their dependencies"
REPO="$repo" HOST_HTTP_PROXY="${http_proxy:-}" HOST_HTTPS_PROXY="${https_proxy:-}" \
mmdebstrap --mode=root --variant=apt --format=directory -q \
  --include="$(IFS=,; echo "${packages[*]}")" \
  "${aptopts[@]}" \
  --customize-hook="$work/customize.sh \"\$1\"" \
  bookworm "$root" \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main" "deb $security bookworm-security main"

kernel="$(ls "$root"/boot/vmlinuz-* | sort -V | tail -1)"
initrd="$(ls "$root"/boot/initrd.img-* | sort -V | tail -1)"
# Room for the tests' logs and captures on top of what is installed; the file stays sparse.
size_mb=$(( $(du -sm "$root" | cut -f1) + 2048 ))
echo "==> ext4 filesystem of $size_mb MiB"
mkfs.ext4 -q -F -L netemu -d "$root" "$work/disk.raw" "${size_mb}M"
mkdir -p "$out"
qemu-img convert -O qcow2 "$work/disk.raw" "$out/disk.qcow2.tmp"
cp "$kernel" "$out/vmlinuz"
cp "$initrd" "$out/initrd.img"
mv "$out/disk.qcow2.tmp" "$out/disk.qcow2"
echo "==> image ready in $out ($(du -sh "$out" | cut -f1))"
