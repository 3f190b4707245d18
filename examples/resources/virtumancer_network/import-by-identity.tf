# Terraform/OpenTofu 1.12 and later: import by the resource identity.
import {
  to       = virtumancer_network.lab
  identity = {
    host_id = "local"
    name    = "lab"
  }
}
