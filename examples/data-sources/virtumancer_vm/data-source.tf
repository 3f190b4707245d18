# A VM recorded by Virtumancer (or another Terraform configuration).
data "virtumancer_vm" "db" {
  host_id = "local"
  name    = "db-primary"
}

output "db" {
  value = {
    memory_mib = data.virtumancer_vm.db.memory
    state      = data.virtumancer_vm.db.state
    verdict    = data.virtumancer_vm.db.verdict
    drifted    = [for d in coalesce(data.virtumancer_vm.db.drift, []) : "${d.attribute} ${d.recorded} -> ${d.live}"]
  }
}
