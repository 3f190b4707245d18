terraform {
  required_providers {
    virtumancer = {
      source = "virtumancer/virtumancer"
    }
  }
}

provider "virtumancer" {
  # The Virtumancer store. Defaults to $VIRTUMANCER_DATABASE, else
  # virtumancer.db in the working directory; created (mode 0600) if missing.
  database = "/var/lib/virtumancer/virtumancer.db"

  # Used for qemu+ssh:// and qemu+libssh:// hosts whose URI names none.
  known_hosts_file = "~/.ssh/known_hosts"
  ssh_key_file     = "~/.ssh/id_ed25519"

  # Upper bound of every libvirt call.
  call_timeout = "30s"
}
