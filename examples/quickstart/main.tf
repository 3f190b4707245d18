# Quickstart: the local libvirtd as a Virtumancer host and a small lab on it
# (examples/modules/guest-lab): a NAT network, a directory pool, the tiny test
# guest uploaded as a base volume, and two VMs booting from qcow2 overlays of
# it, configured by cloud-init (hostname = VM name), each waiting for its DHCP
# lease. `make quickstart` applies it from a
# copy outside the source tree, prints the guests' IPs, shows that a second
# plan is empty, and destroys it (QUICKSTART_KEEP=1 keeps it).
terraform {
  required_providers {
    virtumancer = {
      source = "virtumancer/virtumancer"
      # The root module picks the version. `make quickstart` installs the
      # working tree's build as 0.0.0-dev (the tag's version at a tag) and
      # pins exactly that in an override file of its working copy, since a
      # prerelease is only chosen by an exact constraint. With a release:
      # version = "~> 0.1"
    }
  }
}

variable "prefix" {
  description = "Prefix of every name the quickstart creates on the host; pick your own when sharing a host."
  type        = string
  default     = "qs-lab"
}

variable "cidr" {
  description = "IPv4 network of the lab; pick a free one when sharing a host."
  type        = string
  default     = "10.77.51.0/24"
}

variable "base_image" {
  description = "The tiny test guest's disk image (scripts/testguest.sh prints its path)."
  type        = string
}

variable "pool_path" {
  description = "Directory of the lab's pool on the host; defaults to /var/lib/libvirt/pools/<prefix>."
  type        = string
  default     = null
}

provider "virtumancer" {
  # database = "virtumancer.db"   # or VIRTUMANCER_DATABASE
}

resource "virtumancer_host" "local" {
  id  = "local"
  uri = "qemu:///system"
}

module "lab" {
  source = "../modules/guest-lab"

  host_id    = virtumancer_host.local.id
  prefix     = var.prefix
  cidr       = var.cidr
  pool_path  = coalesce(var.pool_path, "/var/lib/libvirt/pools/${var.prefix}")
  base_image = var.base_image
  guests     = ["one", "two"]
}

output "host" {
  value = {
    hostname        = virtumancer_host.local.hostname
    libvirt_version = virtumancer_host.local.libvirt_version
  }
}

output "ip_addresses" {
  value = module.lab.ip_addresses
}

output "console_logs" {
  value = module.lab.console_logs
}
