# A network is imported by host_id/name.
terraform import virtumancer_network.lab local/lab
