# A small lab on one host: a NAT network with DHCP, a directory pool, a base
# image uploaded once, and one VM per guest booting from its own qcow2
# overlay of that image. Every name starts with var.prefix.

locals {
  # DHCP from the 10th address to the last usable one; the gateway (first
  # address) and the low addresses stay free for static leases.
  dhcp_start = cidrhost(var.cidr, 10)
  dhcp_end   = cidrhost(var.cidr, -2)
}

resource "virtumancer_network" "lab" {
  host_id   = var.host_id
  name      = "${var.prefix}-net"
  mode      = "nat"
  cidr      = var.cidr
  autostart = false

  dhcp {
    start = local.dhcp_start
    end   = local.dhcp_end
  }
}

resource "virtumancer_pool" "lab" {
  host_id = var.host_id
  name    = "${var.prefix}-pool"
  path    = var.pool_path
}

# The base image, uploaded from the machine running Terraform. A changed
# image file (new content) replaces it, and with it every overlay.
resource "virtumancer_volume" "base" {
  host_id = var.host_id
  pool    = virtumancer_pool.lab.name
  name    = "${var.prefix}-base.raw"
  format  = "raw"
  source  = var.base_image
}

# One copy-on-write overlay per guest: the base stays untouched.
resource "virtumancer_volume" "disk" {
  for_each = var.guests

  host_id     = var.host_id
  pool        = virtumancer_pool.lab.name
  name        = "${var.prefix}-${each.key}.qcow2"
  format      = "qcow2"
  base_volume = virtumancer_volume.base.name
}

resource "virtumancer_vm" "guest" {
  for_each = var.guests

  host_id = var.host_id
  name    = "${var.prefix}-${each.key}"
  # TCG: KVM makes no progress on the machines this is tested on, and
  # "qemu" works everywhere.
  domain_type = "qemu"
  vcpu        = var.vcpu
  memory      = var.memory
  running     = true
  graphics    = "none"

  disk {
    pool   = virtumancer_volume.disk[each.key].pool
    volume = virtumancer_volume.disk[each.key].name
    bus    = "virtio"
  }

  network_interface {
    network = virtumancer_network.lab.name
  }

  # A NoCloud seed per guest: meta_data defaults to instance-id (the domain
  # UUID and a digest of the seed) and local-hostname (the VM name).
  cloud_init {
    pool      = virtumancer_pool.lab.name
    user_data = var.user_data
  }

  wait_for_ip {
    source  = "lease"
    timeout = var.ip_timeout
  }

  shutdown_timeout = var.shutdown_timeout
}
