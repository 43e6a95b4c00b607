"""The customer club (REL-4): membership by tier, events, invitations, registrations."""
