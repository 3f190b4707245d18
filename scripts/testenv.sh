#!/usr/bin/env bash
# Prepares this Debian machine to run the test suite, from nothing, as root:
# libvirt + qemu packages, the users and config the qemu driver needs without
# libvirt-daemon-system, virtlogd and libvirtd (inside the network namespace
# the tests own: scripts/libvirtd.sh), and an sshd on 127.0.0.1:2222 for the
# ssh transport tests, and PostgreSQL for the store (scripts/pgenv.sh).
# Idempotent; quiet on success, loud on failure.
set -euo pipefail

fail() { echo "scripts/testenv.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "must run as root (it installs packages and starts libvirtd)"

# iptables and dnsmasq-base must be there before libvirtd starts: it picks its
# firewall backend at start, and networks with DHCP need dnsmasq (SPEC 6).
packages=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils e2fsprogs openssh-server openssh-client sqlite3
  iptables dnsmasq-base iproute2
  gpg unzip) # make release-check: sign and open a snapshot release
missing=()
for p in "${packages[@]}"; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == *'install ok installed'* ]] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/tmp/testenv-apt.log 2>&1 || { cat /tmp/testenv-apt.log >&2; fail "apt-get update failed"; }
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >>/tmp/testenv-apt.log 2>&1 || {
    tail -30 /tmp/testenv-apt.log >&2; fail "installing ${missing[*]} failed"; }
fi

# The qemu driver refuses to start without these (libvirt-daemon-system would make them).
getent group kvm >/dev/null || groupadd -r kvm
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
getent group libvirt >/dev/null || groupadd -r libvirt

# qemu runs as root so it may read test images anywhere.
conf=/etc/libvirt/qemu.conf
touch "$conf"
grep -q '^user = "root"' "$conf" || echo 'user = "root"' >>"$conf"
grep -q '^group = "root"' "$conf" || echo 'group = "root"' >>"$conf"

mkdir -p /var/log/libvirt /run/libvirt /var/lib/libvirt/images /var/lib/libvirt/qemu

# A libvirtd that started before the firewall packages were installed picked
# no usable backend: restart it.
if [[ " ${missing[*]} " == *" iptables "* || " ${missing[*]} " == *" dnsmasq-base "* ]] && pgrep -x libvirtd >/dev/null; then
  pkill -x libvirtd || true
  for _ in $(seq 1 100); do pgrep -x libvirtd >/dev/null || break; sleep 0.1; done
fi
bash "$(dirname "$0")/libvirtd.sh" start
timeout 10 virsh -q -c test+unix:///default version >/dev/null 2>&1 || fail "libvirtd answers but its test driver (test+unix:///default) does not"

# A 'default' directory pool for volumes on qemu:///system.
if ! virsh -q -c qemu:///system pool-info default >/dev/null 2>&1; then
  virsh -q -c qemu:///system pool-define-as default dir --target /var/lib/libvirt/images >/dev/null
fi
virsh -q -c qemu:///system pool-start default >/dev/null 2>&1 || true
pool_state=$(virsh -q -c qemu:///system pool-info default 2>&1 || true)
[[ "$pool_state" == *running* ]] || fail "storage pool 'default' on qemu:///system is not running: $pool_state"

# sshd on 127.0.0.1:2222 for the ssh transport tests (keys are generated per test run).
mkdir -p /run/sshd
if ! timeout 2 bash -c '</dev/tcp/127.0.0.1/2222' 2>/dev/null; then
  [ -f /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -A >/dev/null
  /usr/sbin/sshd -p 2222 -o ListenAddress=127.0.0.1 -o PermitRootLogin=prohibit-password \
    -o PasswordAuthentication=no -o AuthorizedKeysFile=/root/.ssh/authorized_keys_virtumancer_test \
    || fail "sshd did not start on 127.0.0.1:2222"
fi

# PostgreSQL 15 on 127.0.0.1:55432 for the store's second backend (internal/pgtest).
bash "$(dirname "$0")/pgenv.sh"
