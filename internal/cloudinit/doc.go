// Package cloudinit owns the NoCloud seed a VM's cloud_init block becomes:
// the rules its user_data, meta_data and network_config must follow, the
// digest that names a seed (in instance-id and config_json, never the
// content), and the ISO 9660 image, labelled "cidata", that carries it.
// It knows nothing of Terraform, libvirt or storage pools: the VM resource
// validates and builds here, then uploads the bytes as a volume.
//
// The image is written with github.com/kdomanski/iso9660 rather than
// github.com/diskfs/go-diskfs, for four reasons:
//   - dependencies: it has none outside the standard library (its go.mod
//     lists only testify, for its own tests); go-diskfs brings x/sys,
//     djherbis/times and a module graph of compressors and logrus;
//   - names without extensions: a NoCloud seed needs only three files in
//     the root, and cloud-init reads them by the names user-data, meta-data
//     and network-config. kdomanski keeps those names (lower case with '-',
//     which Linux's isofs and cloud-init read as written), so no Rock Ridge
//     or Joliet is needed. go-diskfs turns them into 8.3 upper-case names
//     (USER_DAT) unless Rock Ridge is on, and its Rock Ridge records carry
//     the staging files' access and change times, which no caller can fix;
//   - determinism: kdomanski reads the clock only for the three volume
//     descriptor dates and writes Go's zero time in directory records; Build
//     pins the former to ECMA-119's "not specified" and the latter to the
//     Unix epoch, at the standard's offsets, so the same seed is the same
//     bytes on every apply and on every machine;
//   - both are pure Go (CGO_ENABLED=0 builds). kdomanski is less active (its
//     last release, v0.4.0, is from 2023) and writes no path tables, which
//     Linux does not read; this package's tests read every image back with the
//     library's reader and check the label and each file byte for byte, so an
//     upgrade that changes the output fails here first.
//
// The library stages files in a private temporary directory (mode 0700)
// that Build removes before it returns: user_data touches the local disk
// briefly, and never a log.
package cloudinit
