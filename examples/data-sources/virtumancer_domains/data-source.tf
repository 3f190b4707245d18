# Every domain on host kvm1 whose name starts with web-, recorded or not
# (the guide "Adopt a host" imports them all in one plan).
data "virtumancer_domains" "web" {
  host_id    = "kvm1"
  name_regex = "^web-"
}

output "not_yet_recorded" {
  value = [for d in data.virtumancer_domains.web.domains : d.id if !d.recorded]
}
