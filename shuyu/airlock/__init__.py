"""The import airlock (导入审核): a partner's own files brought into the domain — code, a
notebook, or a small table of its own data that the scenario's agreement allows —
scanned, reviewed by the data provider's level, and placed in the partner's workspace;
a table keyed by real identifiers is pseudonymised on the host (the masking key never
leaves it) and joined to the partner's view, so the raw identifiers never reach a
sandbox."""
