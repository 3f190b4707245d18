data "virtumancer_network" "lab" {
  host_id = "local"
  name    = "lab"
}

# The guests' current DHCP leases, by MAC address. A data source is read at
# plan time; add depends_on = [the VMs] to read it after they got their leases.
output "lab_leases" {
  value = { for l in data.virtumancer_network.lab.leases : l.mac => l.ip }
}
