"""Access-control floor: Casbin policy (model.conf, policy.csv), field effects, masking."""
