#!/usr/bin/env bash
# Builds the tiny test guest once into .cache/testguest/<key>/disk.raw and
# prints that path on stdout; later runs reuse it. The key hashes this script
# (the recipe, the guest's /init included) and the Debian package versions it
# is made of, so a changed recipe or a package update builds a new image.
#
# The guest (SPEC section 6): a raw FAT disk that BIOS-boots itself with
# syslinux into Debian's generic kernel (it has ahci and ata_piix, so a seed on
# a SATA or IDE cdrom is readable) and a busybox initramfs that loads the
# virtio, SCSI/SATA cdrom, iso9660 and vfat drivers, reads a NoCloud seed
# (label cidata), sets the hostname from meta-data, prints what it read on
# ttyS0, takes a DHCP lease on eth0 and runs Debian's qemu-guest-agent; the
# ACPI power button and the agent's guest-shutdown power it off.
# internal/testguest parses what it prints; keep the two in step.
#
# Runs as root (it installs packages). The kernel package is only downloaded
# and unpacked, never installed, so the host's /boot stays as it is.
set -euo pipefail
trap 'echo "scripts/testguest.sh: line $LINENO failed (exit $?); fix the cause above and run it again" >&2' ERR

fail() { echo "scripts/testguest.sh: $*" >&2; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
# TESTGUEST_CACHE moves the cache (a cold build beside a warm one, say).
cache="${TESTGUEST_CACHE:-$root/.cache/testguest}"
kernel_meta=linux-image-amd64
tools=(busybox-static kmod cpio syslinux syslinux-common mtools dosfstools qemu-guest-agent)
# Drivers the guest loads (modprobe adds their dependencies).
modules="virtio_pci virtio_blk virtio_scsi virtio_net virtio_console virtio_balloon
  sd_mod sr_mod ahci ata_piix isofs vfat nls_cp437 nls_ascii nls_iso8859_1 nls_utf8 button evdev"

installed() { [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == *'install ok installed'* ]]; }
version() { dpkg-query -W -f='${Version}' "$1"; }

install_tools() {
  local missing=() p
  for p in "${tools[@]}"; do installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || fail "packages ${missing[*]} are missing; run this script as root (sudo bash scripts/testguest.sh) to install them"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/testguest-apt.log 2>&1 ||
    { apt-get update -qq >>/tmp/testguest-apt.log 2>&1 &&
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >>/tmp/testguest-apt.log 2>&1; } ||
    { tail -30 /tmp/testguest-apt.log >&2; fail "installing ${missing[*]} failed (log: /tmp/testguest-apt.log)"; }
}

# kernel_package prints "name version" of the kernel image the metapackage
# depends on (one apt-cache call: it is slow where apt keeps no pkgcache).
kernel_package() {
  local dep
  dep=$(kernel_dep)
  if [ -z "$dep" ] && [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/tmp/testguest-apt.log 2>&1 || true
    dep=$(kernel_dep)
  fi
  [ -n "$dep" ] || fail "apt knows no $kernel_meta; run apt-get update as root (the Debian main archive must be in the sources)"
  echo "$dep"
}

# kernel_dep reads "Depends: linux-image-6.1.0-57-amd64 (= 6.1.192-3)".
kernel_dep() {
  apt-cache show --no-all-versions "$kernel_meta" 2>/dev/null |
    awk -F'[ (=)]+' '$1=="Depends:" && $2 ~ /^linux-image-/ {print $2, $3; exit}'
}

install_tools
kpkg=$(kernel_package)
read -r kname kver <<<"$kpkg"
key=$( { cat "$0"; echo "$kname $kver"; for p in "${tools[@]}"; do echo "$p $(version "$p")"; done; } |
  sha256sum | cut -c1-16)
out="$cache/$key/disk.raw"
if [ -f "$out" ]; then echo "$out"; exit 0; fi

mkdir -p "$cache"
# One builder at a time: test binaries of several packages may ask at once.
exec 9>"$cache/.lock"
flock 9
if [ -f "$out" ]; then echo "$out"; exit 0; fi
echo "scripts/testguest.sh: building the test guest into $cache/$key (first time only)" >&2
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The kernel: downloaded (kept in the cache beside the images) and unpacked.
mkdir -p "$cache/debs"
cached_deb() { ls "$cache/debs/${kname}_"*"_amd64.deb" 2>/dev/null | grep -F "_${kver/:/%3a}_" || true; }
deb=$(cached_deb)
if [ -z "$deb" ]; then
  rm -f "$cache/debs/"linux-image-*.deb # older kernels: the images built from them stay
  (cd "$cache/debs" && apt-get download -qq -o APT::Sandbox::User=root "$kname=$kver") >"$work/apt.log" 2>&1 ||
    { cat "$work/apt.log" >&2; fail "downloading $kname $kver failed; run apt-get update and try again"; }
  deb=$(cached_deb)
  [ -n "$deb" ] || fail "apt-get download of $kname=$kver left no .deb in $cache/debs"
fi
dpkg-deb -x "$deb" "$work/kernel"
krel=$(ls "$work/kernel/lib/modules")
kmods="$work/kernel/lib/modules/$krel"
depmod -b "$work/kernel" "$krel"

# The initramfs tree: busybox, the modules with their dependencies, the agent
# with the libraries ldd lists, and /init.
tree="$work/tree"
mkdir -p "$tree"/{bin,sbin,dev,proc,sys,tmp,run,mnt/seed,etc/acpi/PWRF,lib/modules/"$krel"}
cp /bin/busybox "$tree/bin/busybox"
for m in $modules; do
  modprobe -d "$work/kernel" -S "$krel" --show-depends "$m" | awk '$1=="insmod" {print $2}'
done | sort -u | while read -r ko; do
  rel=${ko#"$kmods/"}
  mkdir -p "$tree/lib/modules/$krel/$(dirname "$rel")"
  cp "$ko" "$tree/lib/modules/$krel/$rel"
done
cp "$kmods"/modules.{order,builtin,builtin.modinfo} "$tree/lib/modules/$krel/"
depmod -b "$tree" "$krel"
cp /usr/sbin/qemu-ga "$tree/sbin/qemu-ga"
ldd /usr/sbin/qemu-ga | grep -o '/[^ ]*' | while read -r lib; do
  mkdir -p "$tree$(dirname "$lib")"
  cp -L "$lib" "$tree$lib"
done
echo "$modules" | tr -s ' \n' ' ' >"$tree/etc/modules"

# /init prints lines that start with "testguest: " and sections between
# "----- testguest begin NAME -----" and "----- testguest end NAME -----".
cat >"$tree/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t devtmpfs devtmpfs /dev
# The tree has no /dev/console (making one needs root), so the kernel
# started us without a console: take it now that devtmpfs has one.
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo 1 >/proc/sys/kernel/printk
say() { echo "testguest: $*"; }
say "init started (kernel $(uname -r), uptime $(cut -d" " -f1 /proc/uptime) s)"
for m in $(cat /etc/modules); do modprobe "$m" || say "modprobe $m failed"; done
# acpid starts first: a power button pressed before it runs is lost, and a
# destroy right after the lease (what wait_for_ip waits for) would then wait
# out shutdown_timeout.
# acpid runs /etc/acpi/PWRF/00000080 on the power button (virsh shutdown),
# read from the button driver's evdev device. It forks first, then dies if
# its log cannot be made (the default is under /var/log, which this tree
# lacks) or no device opens, so its exit status says nothing: the pid file,
# written once all is open, does.
acpid -c /etc/acpi -l /run/acpid.log -p /run/acpid.pid
for _ in $(seq 1 25); do [ -s /run/acpid.pid ] && break; sleep 0.2; done
if [ -s /run/acpid.pid ] && kill -0 "$(cat /run/acpid.pid)" 2>/dev/null; then
  say "acpid started (input: $(cat /sys/class/input/event*/device/name 2>/dev/null | tr '\n' ',' | sed 's/,$//'))"
else
  say "acpid failed: $(tr '\n' ' ' </run/acpid.log 2>/dev/null)"
fi

# find_seed mounts the NoCloud seed on /mnt/seed: by label first, then by
# probing every block device for a meta-data file (devices appear late).
find_seed() {
  for _ in $(seq 1 50); do
    for dev in $(findfs LABEL=cidata 2>/dev/null) $(findfs LABEL=CIDATA 2>/dev/null) /dev/sr* /dev/vd* /dev/sd* /dev/hd*; do
      [ -b "$dev" ] || continue
      for fs in iso9660 vfat; do
        mount -t "$fs" -o ro "$dev" /mnt/seed 2>/dev/null || continue
        [ -f /mnt/seed/meta-data ] && { seed=$dev; return 0; }
        umount /mnt/seed
      done
    done
    sleep 0.2
  done
  return 1
}

# meta_value prints the value of a top-level key of meta-data (YAML or JSON).
meta_value() {
  sed -n "s/^[[:space:]\"']*$1[\"']*[[:space:]]*:[[:space:]]*//p" /mnt/seed/meta-data | head -n 1 |
    sed "s/[[:space:],]*\$//; s/^[\"']//; s/[\"']\$//"
}

host=testguest
if find_seed; then
  say "seed found on $seed"
  for f in meta-data user-data network-config vendor-data; do
    [ -f "/mnt/seed/$f" ] || continue
    echo "----- testguest begin $f -----"
    cat "/mnt/seed/$f"
    [ -n "$(tail -c 1 "/mnt/seed/$f")" ] && echo
    echo "----- testguest end $f -----"
  done
  say "instance-id=$(meta_value instance-id)"
  h=$(meta_value local-hostname); [ -n "$h" ] || h=$(meta_value hostname)
  [ -n "$h" ] && host=$h
else
  say "no seed found (no filesystem labelled cidata with a meta-data file)"
  say "block devices: $(cat /proc/partitions | awk 'NR>2 {printf "%s ", $4}')"
  say "file systems: $(grep -v nodev /proc/filesystems | tr -s ' \t\n' ' ')"
  for dev in /dev/vd* /dev/sd* /dev/sr*; do [ -b "$dev" ] && say "$dev: $(mount -o ro "$dev" /mnt/seed 2>&1 && ls /mnt/seed | tr '\n' ' '; umount /mnt/seed 2>/dev/null)"; done
  dmesg | tail -n 5 | sed 's/^/testguest: dmesg: /'
fi
hostname "$host"
echo "$host" >/etc/hostname
say "hostname=$(hostname)"

ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
  udhcpc -i eth0 -b -t 30 -T 2 -s /etc/udhcpc.script -x "hostname:$host" -F "$host" >/dev/null 2>&1
  say "dhcp started on eth0 (mac $(cat /sys/class/net/eth0/address))"
else
  say "no eth0"
fi

# No udev: the agent's port is the virtio port whose name is the channel's.
port=
for _ in $(seq 1 25); do
  for p in /sys/class/virtio-ports/*; do
    [ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] && port=/dev/${p##*/}
  done
  [ -n "$port" ] && break
  sleep 0.2
done
if [ -n "$port" ]; then
  qemu-ga -m virtio-serial -p "$port" -t /run -f /run/qemu-ga.pid -d && say "agent started on $port"
else
  say "no agent channel"
fi
say "ready (uptime $(cut -d" " -f1 /proc/uptime) s)"
while :; do sleep 3600; done
INIT

# udhcpc calls this on every lease event; "bound" and "renew" print the lease.
cat >"$tree/etc/udhcpc.script" <<'DHCP'
#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route add default via "${router%% *}" dev "$interface"
    echo "testguest: lease $interface ip=$ip mask=${mask:-24} router=${router:-none} server=${serverid:-none}" >/dev/console ;;
esac
exit 0
DHCP

# The power button (virsh shutdown) powers off. There is no init to signal,
# so poweroff -f: the kernel's ACPI S5 ends qemu, which libvirt records as
# shut off, reason "shutdown".
cat >"$tree/etc/acpi/PWRF/00000080" <<'PWRF'
#!/bin/sh
echo "testguest: shutting down: poweroff (power button)" >/dev/console
sync
exec poweroff -f
PWRF
# The agent's guest-shutdown runs "/sbin/shutdown -h -P|-H|-r +0 message"
# (powerdown, halt, reboot); it expects no reply, so acting at once is fine.
cat >"$tree/sbin/shutdown" <<'SHUTDOWN'
#!/bin/sh
action=poweroff
for a; do
  case "$a" in -r) action=reboot ;; -H) action=halt ;; esac
done
echo "testguest: shutting down: $action (agent)" >/dev/console
sync
exec "$action" -f
SHUTDOWN
chmod 755 "$tree/init" "$tree/etc/udhcpc.script" "$tree/etc/acpi/PWRF/00000080" "$tree/sbin/shutdown"
(cd "$tree" && find . | cpio -H newc -o --quiet | gzip -9) >"$work/initrd.gz"

# The disk: one FAT file system over the whole disk, syslinux in its boot sector.
cat >"$work/syslinux.cfg" <<'CFG'
SERIAL 0 115200
DEFAULT guest
PROMPT 0
TIMEOUT 0
LABEL guest
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND console=ttyS0,115200 quiet panic=-1
CFG
cp "$work/kernel/boot/vmlinuz-$krel" "$work/vmlinuz"
need=$(( ($(stat -c %s "$work/vmlinuz") + $(stat -c %s "$work/initrd.gz")) / 1048576 + 4 ))
size=$(( need > 32 ? need : 32 ))
mkfs.vfat -C -n TESTGUEST "$work/disk.raw" $((size * 1024)) >/dev/null
syslinux --install "$work/disk.raw"
mcopy -i "$work/disk.raw" "$work/syslinux.cfg" "$work/vmlinuz" "$work/initrd.gz" ::/
mkdir -p "$cache/$key"
printf 'kernel %s %s (%s)\nsize %s MiB\n' "$kname" "$kver" "$krel" "$size" >"$cache/$key/README"
mv "$work/disk.raw" "$out"
# Images of older recipes, unused for a day, go.
find "$cache" -mindepth 1 -maxdepth 1 -type d -name '????????????????' ! -name "$key" -mtime +1 -exec rm -rf {} +
echo "$out"
