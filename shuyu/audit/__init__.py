"""Audit: every privileged action and every refusal, as structured events."""
