# Quickstart: the local libvirtd as a Virtumancer host, a 64 MiB qcow2 volume,
# and a running VM (TCG: these machines have no /dev/kvm) that boots from it.
# `make quickstart` applies it with the store in ./virtumancer.db
# (VIRTUMANCER_DATABASE) and then shows that a second plan is empty.
terraform {
  required_providers {
    virtumancer = {
      source = "virtumancer/virtumancer"
    }
  }
}

provider "virtumancer" {
  # database = "virtumancer.db"   # or VIRTUMANCER_DATABASE
}

resource "virtumancer_host" "local" {
  id  = "local"
  uri = "qemu:///system"
}

resource "virtumancer_volume" "root" {
  host_id  = virtumancer_host.local.id
  pool     = "default"
  name     = "quickstart-root.qcow2"
  capacity = 64
  format   = "qcow2"
}

resource "virtumancer_vm" "web" {
  host_id     = virtumancer_host.local.id
  name        = "quickstart-web"
  domain_type = "qemu"
  vcpu        = 1
  memory      = 128
  running     = true
  graphics    = "vnc"

  disk {
    pool   = virtumancer_volume.root.pool
    volume = virtumancer_volume.root.name
    bus    = "virtio"
  }

  shutdown_timeout = "5s"
}

output "host" {
  value = {
    hostname        = virtumancer_host.local.hostname
    libvirt_version = virtumancer_host.local.libvirt_version
    cpus            = virtumancer_host.local.cpus
  }
}

output "vm" {
  value = {
    uuid  = virtumancer_vm.web.uuid
    state = virtumancer_vm.web.state
  }
}
