"""Shared by every stage: exit codes and expected failures, redaction of credentials and secrets."""
