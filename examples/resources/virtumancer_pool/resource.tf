# A directory pool for VM disks. The directory is created when missing and
# removed with the pool only because the provider created it.
resource "virtumancer_pool" "images" {
  host_id = virtumancer_host.local.id
  name    = "images"
  path    = "/var/lib/libvirt/pools/images"
}

# Volumes name the pool through the resource, so they are created after it
# and destroyed before it (destroying a pool that still holds volumes fails).
resource "virtumancer_volume" "data" {
  host_id  = virtumancer_host.local.id
  pool     = virtumancer_pool.images.name
  name     = "web-data.qcow2"
  capacity = 10240
}

output "images_free_mib" {
  value = virtumancer_pool.images.available
}
