"""Training recipes (YAML configs for `gre finetune`) and multi-GPU launch files; see README."""
