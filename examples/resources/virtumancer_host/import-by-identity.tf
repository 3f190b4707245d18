# Terraform/OpenTofu 1.12 and later: import by the resource identity.
import {
  to       = virtumancer_host.local
  identity = {
    id = "local"
  }
}
