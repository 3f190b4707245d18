import {
  to = virtumancer_network.lab
  id = "local/lab"
}
