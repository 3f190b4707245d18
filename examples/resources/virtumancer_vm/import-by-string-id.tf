# Import with a configuration block (Terraform 1.5+, OpenTofu): `host_id/name`.
import {
  to = virtumancer_vm.web
  id = "kvm1/web"
}
