import {
  to = virtumancer_pool.images
  id = "local/images"
}
