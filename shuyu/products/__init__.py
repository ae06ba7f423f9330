"""Data products by API (以 API 接口形式提供) and 事中检查.

Consumers (使用单位: banks, insurers) call `POST /api/v1/products/{product}/score` with
an API key, under a usage agreement, on a consent record where the product scores
people. In the domain the identifier is pseudonymised with the masking key, the
subject's masked features are looked up, the approved ONNX model scores them, and only
a score, a grade and factor labels leave. Every call is an audit event; the monitor's
rules watch the calls (and the sandboxes' audit events), block a key at once on a hit
and open a case for the bureau's manual check.

- `policy`: products.yaml cross-checked against the scenarios;
- `keys`, `accounts`, `admins`, `tables`: consumers, API keys, agreements, consents;
- `subjects`, `feature_table`, `approved_model`, `scoring`: from an identifier to a score;
- `refusals`, `contracts`, `quota`, `gateway`, `api`: one call, its checks, its HTTP face;
- `monitor_rules`, `monitor`, `audit_watch`, `case_states`, `cases`: 事中检查;
- `statements`: usage and amounts per consumer and month;
- `clock`, `settings`, `service`: local time, the environment, the parts put together.
"""
