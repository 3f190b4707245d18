import {
  to = virtumancer_host.local
  id = "local"
}
