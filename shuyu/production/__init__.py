"""Production (推广应用): approved scenario notebooks run by operators on in-domain data,
their outputs checked before the outbox.

- `states`: a production run's state machine, every transition in one module.
- `output_check`: the check of a run's output folder (PII, identifiers, declared files
  and columns, small cells, dominance, file types and sizes), a typed bilingual verdict.
- `suppression`: aggregate tables with small and dominated cells suppressed and margins
  recomputed from what is published; the check rebuilds tables with it.
- `inputs`: the input batch a run reads, built from the in-domain zones.
- `scoring`, `market_report`: what the scenario notebooks under notebooks/scenarios call.
"""
