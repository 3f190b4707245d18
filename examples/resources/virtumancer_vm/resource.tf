resource "virtumancer_host" "kvm1" {
  id  = "kvm1"
  uri = "qemu+ssh://root@kvm1.example.com/system"
}

resource "virtumancer_volume" "web_root" {
  host_id     = virtumancer_host.kvm1.id
  pool        = "default"
  name        = "web-root.qcow2"
  capacity    = 20480
  format      = "qcow2"
  base_volume = "debian-12-genericcloud-amd64.qcow2"
}

# A running VM with a qcow2 root volume, an installer ISO and one NIC on the
# libvirt network "default". Changing memory, vcpu, disks or interfaces
# redefines the domain in place and restarts it (graceful shutdown first).
resource "virtumancer_vm" "web" {
  host_id    = virtumancer_host.kvm1.id
  name       = "web"
  vcpu       = 2
  memory     = 2048 # MiB
  max_memory = 4096 # MiB
  autostart  = true
  running    = true
  graphics   = "vnc" # vnc, spice or none; listens on 127.0.0.1 only

  disk {
    pool   = virtumancer_volume.web_root.pool
    volume = virtumancer_volume.web_root.name
    # bus defaults to virtio, target to the next free vdX
  }

  disk {
    path   = "/var/lib/libvirt/images/debian-12.iso"
    device = "cdrom" # sata, read-only
  }

  network_interface {
    network = "default"
    # model defaults to virtio; mac is assigned by libvirt and kept
  }

  wait_for_ip {
    source  = "lease" # lease, agent or arp
    timeout = "5m"
  }

  shutdown_timeout = "90s"

  timeouts {
    create = "15m"
  }
}

output "web_ips" {
  value = virtumancer_vm.web.ip_addresses
}

# Every plan compares the recorded configuration with the live domain:
# changes made outside Terraform are listed here and in a warning.
output "web_drift" {
  value = virtumancer_vm.web.drift
}

# A VM provisioned by cloud-init from a qcow2 overlay of a cloud image. The
# provider builds the NoCloud seed, stores it as the volume
# "app-cidata.iso" in the pool and attaches it as a read-only cdrom; the
# default meta_data sets instance-id (uuid and seed digest) and
# local-hostname = "app". A later change of user_data rewrites the seed
# without restarting the VM (the plan warns): the guest reads it at its next
# start as a new instance. The serial console (ttyS0) is logged to
# console_log, the volume "app-console.log" of the same pool.
resource "virtumancer_volume" "app_root" {
  host_id     = virtumancer_host.kvm1.id
  pool        = "default"
  name        = "app-root.qcow2"
  base_volume = "debian-12-genericcloud-amd64.qcow2"
}

resource "virtumancer_vm" "app" {
  host_id = virtumancer_host.kvm1.id
  name    = "app"
  vcpu    = 1
  memory  = 1024

  disk {
    pool   = virtumancer_volume.app_root.pool
    volume = virtumancer_volume.app_root.name
  }

  network_interface {
    network = "default"
  }

  cloud_init {
    pool      = "default"
    user_data = <<-EOT
      #cloud-config
      packages: [nginx]
      ssh_authorized_keys:
        - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOnly ops@example.com
    EOT
    # meta_data and network_config are optional.
  }
}

output "app_console_log" {
  value = virtumancer_vm.app.console_log # e.g. /var/lib/libvirt/images/app-console.log
}
