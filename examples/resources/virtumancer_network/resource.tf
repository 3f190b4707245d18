# A NAT network with a DHCP range and a static lease. Adding, changing or
# removing a dhcp_host changes the running network live; changing mode,
# cidr or dhcp redefines and restarts it in place (same uuid); the plan
# names the running VMs plugged into it, which lose their link until each
# is restarted (libvirt does not plug them back in).
resource "virtumancer_network" "lab" {
  host_id   = virtumancer_host.local.id
  name      = "lab"
  mode      = "nat"
  cidr      = "10.77.0.0/24" # the host takes 10.77.0.1 as the gateway
  autostart = true

  dhcp {
    start = "10.77.0.100"
    end   = "10.77.0.200"
  }

  dhcp_host {
    mac  = "52:54:00:77:00:10"
    ip   = "10.77.0.10"
    name = "web"
  }
}

# Guests plugged straight into an existing host bridge (no cidr, no DHCP
# from libvirt).
resource "virtumancer_network" "lan" {
  host_id = virtumancer_host.local.id
  name    = "lan"
  mode    = "bridge"
  bridge  = "br0"
}
