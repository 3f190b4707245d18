# The local libvirtd.
resource "virtumancer_host" "local" {
  id  = "local"
  uri = "qemu:///system"
}

# A remote host over SSH; its host key must be in the known_hosts file.
resource "virtumancer_host" "rack1" {
  id  = "rack1-node3"
  uri = "qemu+ssh://virt@10.0.1.13/system"
}

output "local_host" {
  value = "${virtumancer_host.local.hostname}: ${virtumancer_host.local.cpus} CPUs, ${virtumancer_host.local.memory} MiB, libvirt ${virtumancer_host.local.libvirt_version}"
}
