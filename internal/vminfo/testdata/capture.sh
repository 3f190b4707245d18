#!/bin/sh
# Refreshes the libvirt samples the tests read: defines every
# testdata/build/<driver>-<name>.xml on the local libvirtd, saves what
# libvirt stored (dumpxml --inactive) as testdata/<driver>/<name>.xml, and
# undefines it again. Nothing is started and no image is created.
# Run after `go test ./internal/vminfo -run TestBuildXMLGolden -update`.
set -eu
cd "$(dirname "$0")"

for f in build/qemu-*.xml; do
	name=$(basename "$f" .xml)
	name=${name#qemu-}
	virsh -q -c qemu:///system define "$f" >/dev/null
	# Undefine even when dumpxml fails, so no domain is left behind.
	virsh -c qemu:///system dumpxml --inactive "vminfo-$name" >"qemu/$name.xml" || status=$?
	virsh -q -c qemu:///system undefine "vminfo-$name" >/dev/null
	[ "${status:-0}" = 0 ] || exit "$status"
done

# The daemon's test driver forgets what it defined once the last connection
# closes, so define, dump and undefine in one virsh session.
for f in build/test-*.xml; do
	name=$(basename "$f" .xml)
	name=${name#test-}
	virsh -q -c test+unix:///default \
		"define $f; dumpxml --inactive vminfo-$name; undefine vminfo-$name" >"test/$name.xml"
done

# The domain the test driver ships with, as every test connection sees it.
virsh -q -c test+unix:///default dumpxml --inactive test >test/default-test.xml
virsh -q -c test+unix:///default dumpxml test >test/default-test-active.xml

# With -running, also start a QEMU domain (TCG, boots to the firmware only)
# to record how its active XML differs from its definition.
if [ "${1:-}" = "-running" ]; then
	v="virsh -q -c qemu:///system"
	$v vol-create-as default vminfo-running.qcow2 1M --format qcow2 >/dev/null
	cleanup() {
		$v destroy vminfo-running >/dev/null 2>&1 || true
		$v undefine vminfo-running >/dev/null 2>&1 || true
		$v vol-delete --pool default vminfo-running.qcow2 >/dev/null 2>&1 || true
	}
	trap cleanup EXIT
	$v define running.xml >/dev/null
	$v start vminfo-running >/dev/null
	$v dumpxml --inactive vminfo-running >qemu/running-inactive.xml
	$v dumpxml vminfo-running >qemu/running-active.xml
fi
