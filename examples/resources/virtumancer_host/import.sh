# A host already in the store (added by Virtumancer, say) is imported by its id.
terraform import virtumancer_host.local local
