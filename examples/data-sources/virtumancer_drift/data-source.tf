# A gate that fails the run: the plan stops with an error when any VM
# drifted, is missing or unreadable, or a host did not answer. A `check`
# block with the same condition only warns, and the run goes on.
data "virtumancer_drift" "fleet" {
  lifecycle {
    postcondition {
      condition = self.in_step
      error_message = join("\n", concat(
        [for vm in self.vms : "${vm.host_id}/${vm.name}: ${vm.verdict} ${join("; ", [for f in vm.fields : "${f.attribute} ${f.recorded} -> ${f.live}"])}"],
        [for h in self.unreachable_hosts : "host ${h} did not answer"],
      ))
    }
  }
}

# What needs attention, with what fixes it.
output "attention" {
  value = { for vm in data.virtumancer_drift.fleet.vms : "${vm.host_id}/${vm.name}" => vm.remedy }
}
