"""Provisioning: the desired LiveKit state of a clinic and the reconcile engine."""
