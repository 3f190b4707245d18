variable "host_id" {
  description = "Id of the virtumancer_host the lab lives on."
  type        = string
}

variable "prefix" {
  description = "Prefix of every name the lab creates on the host (network, pool, volumes, VMs), so two labs can share one host."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.prefix))
    error_message = "prefix must start with a lowercase letter and hold only lowercase letters, digits and '-' (at most 31 characters), e.g. \"qs-alice\"."
  }
}

variable "cidr" {
  description = "IPv4 network of the lab's NAT network, e.g. \"10.77.51.0/24\"; the host takes its first address, DHCP hands out the rest. It must not overlap another network of the host."
  type        = string

  validation {
    condition     = can(cidrhost(var.cidr, 0)) && can(regex("^[0-9.]+/([0-9]|1[0-9]|2[0-8])$", var.cidr))
    error_message = "cidr must be an IPv4 network with a prefix of /28 or shorter, e.g. \"10.77.51.0/24\"."
  }
}

variable "pool_path" {
  description = "Absolute path, on the host, of the lab's directory pool; created when missing and removed with the lab if it created it."
  type        = string

  validation {
    condition     = startswith(var.pool_path, "/")
    error_message = "pool_path must be an absolute path on the host, e.g. \"/var/lib/libvirt/pools/qs-alice\"."
  }
}

variable "base_image" {
  description = "Path of a raw, BIOS-bootable disk image on the machine running Terraform (e.g. the tiny test guest that scripts/testguest.sh prints); it is uploaded once as the base volume of every guest's qcow2 overlay."
  type        = string
}

variable "guests" {
  description = "Names of the guests; each VM is called \"<prefix>-<name>\" and gets its own qcow2 overlay."
  type        = set(string)
  default     = ["one", "two"]

  validation {
    condition     = length(var.guests) > 0 && alltrue([for g in var.guests : can(regex("^[a-z0-9][a-z0-9-]{0,30}$", g))])
    error_message = "guests must name at least one guest; each name holds only lowercase letters, digits and '-', e.g. [\"web\", \"db\"]."
  }
}

variable "memory" {
  description = "Memory of each guest in MiB (the tiny test guest is fine with 128)."
  type        = number
  default     = 128

  validation {
    condition     = var.memory >= 64
    error_message = "memory must be at least 64 MiB."
  }
}

variable "vcpu" {
  description = "Virtual CPUs of each guest."
  type        = number
  default     = 1
}

variable "ip_timeout" {
  description = "How long to wait for each guest's DHCP lease, as a Go duration. Guests boot under TCG (no KVM) in about 10 s each, slower when several boot at once."
  type        = string
  default     = "5m"
}

variable "shutdown_timeout" {
  description = "How long a guest may take to power off after the ACPI power button before it is forced off (on destroy and restarts), as a Go duration."
  type        = string
  default     = "30s"
}

variable "user_data" {
  description = "cloud-init user-data for every guest (a #cloud-config document or a script). Sensitive: never in plan output or the store, which records only a digest of the seed."
  type        = string
  sensitive   = true
  default     = <<-EOT
    #cloud-config
    # Written by the guest-lab module; the tiny test guest prints what it received on its console.
    packages: []
  EOT
}
