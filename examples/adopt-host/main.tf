# Adopt every domain of a host in one plan: virtumancer_domains lists the
# domains libvirt has (recorded in the store or not), one import block with
# for_each brings each under a virtumancer_vm, and one for_each resource fed
# by the same list describes each domain as it is, so the plan after the
# import is empty. (Terraform refuses -generate-config-out with a for_each
# import, hashicorp/terraform#35968: this resource takes its place.)
terraform {
  required_providers {
    virtumancer = {
      source = "virtumancer/virtumancer"
    }
  }
}

variable "host_id" {
  description = "Id of the virtumancer_host to adopt (it must exist in the store)."
  type        = string
}

variable "name_regex" {
  description = "Which domains to adopt. Select them by name, not by `recorded`: adopting records them."
  type        = string
  default     = ".*"
}

data "virtumancer_domains" "host" {
  host_id    = var.host_id
  name_regex = var.name_regex
}

locals {
  adopted = { for d in data.virtumancer_domains.host.domains : d.name => d }
}

import {
  for_each = local.adopted
  to       = virtumancer_vm.adopted[each.key]
  id       = each.value.id
}

resource "virtumancer_vm" "adopted" {
  for_each = local.adopted

  host_id     = var.host_id
  name        = each.key
  vcpu        = each.value.vcpu
  memory      = each.value.memory
  max_memory  = each.value.max_memory
  autostart   = each.value.autostart
  running     = each.value.running
  graphics    = each.value.graphics
  domain_type = each.value.domain_type

  dynamic "disk" {
    for_each = each.value.disks
    content {
      pool      = disk.value.pool
      volume    = disk.value.volume
      path      = disk.value.path
      device    = disk.value.device
      bus       = disk.value.bus
      target    = disk.value.target
      format    = disk.value.format
      read_only = disk.value.read_only
    }
  }

  dynamic "network_interface" {
    for_each = each.value.network_interfaces
    content {
      network = network_interface.value.network
      bridge  = network_interface.value.bridge
      model   = network_interface.value.model
      mac     = network_interface.value.mac
    }
  }

  # From here on the VMs are yours to change: edit a value here (or copy one
  # VM out into its own resource block with a `moved` block). Until then the
  # configuration follows the host, so a change made with virsh shows up as
  # an update of the data source's values rather than as drift.
}

output "adopted" {
  value = keys(local.adopted)
}
