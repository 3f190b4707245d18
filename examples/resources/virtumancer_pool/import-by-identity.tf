# Terraform/OpenTofu 1.12 and later: import by the resource identity.
import {
  to       = virtumancer_pool.images
  identity = {
    host_id = "local"
    name    = "images"
  }
}
