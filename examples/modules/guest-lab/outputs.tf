output "ip_addresses" {
  description = "Addresses of each guest from its DHCP lease, by guest name."
  value       = { for name, vm in virtumancer_vm.guest : name => vm.ip_addresses }
}

output "vms" {
  description = "Domain name and UUID of each guest, by guest name."
  value       = { for name, vm in virtumancer_vm.guest : name => { name = vm.name, uuid = vm.uuid } }
}

output "network" {
  description = "Name and bridge of the lab's network."
  value       = { name = virtumancer_network.lab.name, bridge = virtumancer_network.lab.bridge, cidr = virtumancer_network.lab.cidr }
}

output "pool" {
  description = "Name and host path of the lab's pool."
  value       = { name = virtumancer_pool.lab.name, path = virtumancer_pool.lab.path }
}

output "console_logs" {
  description = "Host path of each guest's serial console log (a volume in the lab's pool), by guest name."
  value       = { for name, vm in virtumancer_vm.guest : name => vm.console_log }
}
