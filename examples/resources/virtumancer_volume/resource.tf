# An empty 10 GiB qcow2 volume in the host's default pool (on the
# test:///default driver that pool is called "default-pool").
resource "virtumancer_volume" "data" {
  host_id  = virtumancer_host.local.id
  pool     = "default"
  name     = "web-data.qcow2"
  capacity = 10240
}

# A copy-on-write overlay on a base image of the same pool: it starts with
# the base's content and size.
resource "virtumancer_volume" "root" {
  host_id     = virtumancer_host.local.id
  pool        = "default"
  name        = "web-root.qcow2"
  base_volume = virtumancer_volume.debian.name
}

# Growing capacity later (say to 20480) resizes the volume in place and keeps
# its data, live when a running VM has it attached; a smaller capacity is
# refused at plan time. A volume that a VM uses is never deleted under it:
# a change that replaces the volume (a new format, or new content of
# `source`) fails before anything is removed, unless the VM is replaced with
# it, which `replace_triggered_by` on the VM asks for. It names the path, which
# is new only when the volume is replaced, so that growing the volume (an
# update) does not replace the VM:
resource "virtumancer_vm" "web" {
  host_id = virtumancer_host.local.id
  name    = "web"
  vcpu    = 1
  memory  = 512

  disk {
    pool   = virtumancer_volume.root.pool
    volume = virtumancer_volume.root.name
  }
  disk {
    pool   = virtumancer_volume.data.pool
    volume = virtumancer_volume.data.name
  }

  lifecycle {
    replace_triggered_by = [virtumancer_volume.root.path]
  }
}
