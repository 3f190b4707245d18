#!/usr/bin/env bash
# Starts libvirtd (and virtlogd) inside the network namespace the tests own,
# so every bridge, dnsmasq and guest it starts lives there and guest
# addresses never appear on this machine's own network (SPEC 6). Clients
# still reach it through its unix socket. A libvirtd running outside the
# namespace is stopped and started again inside it. Idempotent; as root.
#   scripts/libvirtd.sh start    start it there unless it already runs there
#   scripts/libvirtd.sh netns    print the namespace's name
set -euo pipefail
NETNS=${VIRTUMANCER_TEST_NETNS:-vmtest}
fail() { echo "scripts/libvirtd.sh: $*" >&2; exit 1; }

answering() { timeout 10 virsh -q -c qemu:///system version >/dev/null 2>&1; }

# in_netns PID: whether the process lives in our namespace.
in_netns() {
  [ "$(stat -Lc %i "/proc/$1/ns/net" 2>/dev/null)" = "$(stat -Lc %i "/run/netns/$NETNS" 2>/dev/null)" ]
}

ensure_netns() {
  ip netns list 2>/dev/null | grep -qx "$NETNS\( .*\)\?" || ip netns add "$NETNS" || fail "ip netns add $NETNS failed"
  ip -n "$NETNS" link set lo up
}

stop_outside() {
  local pid
  for pid in $(pgrep -x libvirtd || true); do
    in_netns "$pid" && continue
    echo "scripts/libvirtd.sh: libvirtd (pid $pid) runs outside netns $NETNS; restarting it inside" >&2
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && fail "libvirtd (pid $pid) did not stop"
  done
  return 0
}

start() {
  [ "$(id -u)" = 0 ] || fail "must run as root"
  ensure_netns
  stop_outside
  mkdir -p /var/log/libvirt /run/libvirt
  pgrep -x virtlogd >/dev/null || virtlogd -d || fail "virtlogd did not start"
  pgrep -x libvirtd >/dev/null || ip netns exec "$NETNS" libvirtd -d || fail "libvirtd did not start in netns $NETNS"
  for _ in $(seq 1 100); do answering && break; sleep 0.2; done
  answering || fail "libvirtd started but qemu:///system does not answer on /var/run/libvirt/libvirt-sock (see /var/log/libvirt/)"
}

case "${1:-}" in
  start) start ;;
  netns) echo "$NETNS" ;;
  *) fail "usage: $0 start|netns" ;;
esac
