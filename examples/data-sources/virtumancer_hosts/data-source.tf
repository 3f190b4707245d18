data "virtumancer_hosts" "all" {}

output "host_uris" {
  value = { for h in data.virtumancer_hosts.all.hosts : h.id => h.uri }
}
