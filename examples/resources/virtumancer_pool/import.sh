# A pool is imported by host_id/name. Its directory is never removed by a
# later destroy: the provider did not create it.
terraform import virtumancer_pool.images local/images
