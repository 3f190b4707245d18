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
