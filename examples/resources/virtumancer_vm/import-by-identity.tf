# Terraform/OpenTofu 1.12 and later: import by the resource identity.
import {
  to       = virtumancer_vm.web
  identity = {
    host_id = "kvm1"
    name    = "web"
  }
}
