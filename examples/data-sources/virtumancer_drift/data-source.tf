data "virtumancer_drift" "fleet" {}

# Fail the run (Terraform 1.5+ check block) when anything drifted.
check "no_drift" {
  assert {
    condition     = length(data.virtumancer_drift.fleet.vms) == 0
    error_message = "Drifted VMs: ${join(", ", [for vm in data.virtumancer_drift.fleet.vms : "${vm.host_id}/${vm.name} (${join(", ", [for f in vm.fields : "${f.field}: ${f.recorded} -> ${f.live}"])})"])}"
  }
}

output "unreachable_hosts" {
  value = data.virtumancer_drift.fleet.unreachable_hosts
}
