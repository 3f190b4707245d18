# A volume filled from a local image file. Its capacity defaults to the
# image's virtual size; a new image (different content) replaces the volume.
# The test:///default driver has no upload: use a qemu host.
resource "virtumancer_volume" "debian" {
  host_id = virtumancer_host.local.id
  pool    = "default"
  name    = "debian-12-base.qcow2"
  format  = "qcow2"
  source  = "${path.module}/images/debian-12-genericcloud-amd64.qcow2"
}
