"""Governance: deployments, two-person verification, purge, retention and the audit chain."""
