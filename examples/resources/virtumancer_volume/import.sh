# A volume is imported by host_id/pool/name.
terraform import virtumancer_volume.data local/default/web-data.qcow2
