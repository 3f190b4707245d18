# Terraform/OpenTofu 1.12 and later: import by the resource identity.
import {
  to       = virtumancer_volume.data
  identity = {
    host_id = "local"
    pool    = "default"
    name    = "web-data.qcow2"
  }
}
