# Every VM of the store.
data "virtumancer_vms" "all" {}

# The running web VMs of one host.
data "virtumancer_vms" "web" {
  host_id    = "local"
  state      = "running"
  name_regex = "^web-"
}

# Rows whose domain no longer exists on its host.
data "virtumancer_vms" "orphans" {
  state = "missing"
}

output "web_vms" {
  value = [for vm in data.virtumancer_vms.web.vms : "${vm.name} (${vm.vcpu} vCPU, ${vm.memory} MiB)"]
}

# VMs whose recorded configuration cannot be read (the next apply of each re-records it).
output "unreadable" {
  value = [for vm in data.virtumancer_vms.all.vms : vm.id if vm.verdict == "record_unreadable"]
}
