"""Access-control floor: Casbin policy (model.conf, policy.csv), field effects and masking, row
scopes, share grants and consents in force, rights, and the per-request access object."""
