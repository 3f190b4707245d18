module github.com/virtumancer/terraform-provider-virtumancer/tools/lint

go 1.26
