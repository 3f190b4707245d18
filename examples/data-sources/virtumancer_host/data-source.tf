data "virtumancer_host" "local" {
  id = "local"
}

# Size VMs after the host; facts are null (with a warning) while it is down.
locals {
  vm_memory = data.virtumancer_host.local.reachable ? floor(data.virtumancer_host.local.memory / 4) : 512
}
