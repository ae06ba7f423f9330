"""The model registry as shuyu keeps it: a registered version is an immutable copy.

The registry gate (the review service's `registry-gate` account) copies the model files
the self-check saw into a run of the `shuyu/registry` experiment, where no partner holds
any grant, verifies every file's sha256 after the upload, and registers that copy with
the digests as version tags. A partner's later change to their own run cannot reach a
registered version; loading one verifies every digest first.
"""
