# A VM is imported by its host id and domain name, `host_id/name`. If the
# store has no row for the domain yet, the import records its configuration.
terraform import virtumancer_vm.web kvm1/web
