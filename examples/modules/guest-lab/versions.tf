terraform {
  # OpenTofu 1.6+ and Terraform 1.5+ (variable validation, optional
  # attributes, for_each over sets).
  required_version = ">= 1.5.0"

  required_providers {
    virtumancer = {
      source = "virtumancer/virtumancer"
      # No version constraint here: a module leaves that to the root module.
      # An inexact constraint such as ">= 0.1" would also refuse a local
      # development build (0.0.0-dev, a prerelease), see the guide
      # "Use it in your own configuration".
    }
  }
}
