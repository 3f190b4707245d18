import {
  to = virtumancer_volume.data
  id = "local/default/web-data.qcow2"
}
