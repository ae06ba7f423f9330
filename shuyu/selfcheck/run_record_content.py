"""What a run record holds — parameters (names and values), tags (keys and values),
metrics (names and values) and dataset inputs (names, digests, tags) — as texts to scan
for identifiers and candidate rows (each parameter or tag value a row of tokens, and
the records of values that are JSON)."""

from __future__ import annotations

import numpy as np

from shuyu.selfcheck.context import CheckContext
from shuyu.selfcheck.extracted import Rows, Text, json_records, record_rows, token_rows, try_json
from shuyu.selfcheck.labels import safe_label
from shuyu.selfcheck.number_renderings import number_texts


def run_record_texts(ctx: CheckContext) -> list[Text]:
    run = ctx.submission.run
    params = [(f"parameter #{i} name", k) for i, k in enumerate(run.params, 1)]
    params += [(f"parameter {safe_label(k)!r} value", v) for k, v in run.params.items()]
    tags = [(f"tag #{i} key", k) for i, k in enumerate(run.tags, 1)]
    tags += [(f"tag {safe_label(k)!r} value", v) for k, v in run.tags.items()]
    metrics = [(f"metric #{i} name", k) for i, k in enumerate(run.metrics, 1)]
    values = np.asarray(list(run.metrics.values()), dtype=np.float64)
    datasets: list[tuple[str, str]] = []
    for i, d in enumerate(run.dataset_inputs, 1):
        datasets += [(f"dataset input #{i} name", d.name), (f"dataset input #{i} digest", d.digest)]
        datasets += [
            (f"dataset input #{i} tag {safe_label(k)!r}", f"{k}\n{v}") for k, v in d.tags.items()
        ]
    return [
        Text("run parameters", params),
        Text("run tags", tags),
        Text("run metrics", metrics),
        Text("run metric values", number_texts(values, with_bytes=False)),
        Text("run dataset inputs", datasets),
    ]


def run_record_rows(ctx: CheckContext) -> list[Rows]:
    run = ctx.submission.run
    found = []
    for where, values in (("run parameters", run.params), ("run tags", run.tags)):
        lines = [(f"{safe_label(k)!r}", v) for k, v in values.items()]
        found.append(token_rows(where, lines))
        for key, value in values.items():
            parsed = try_json(value) if value[:1] in "[{" else None
            if parsed is not None:
                found.append(record_rows(f"{where} {safe_label(key)!r}", json_records(parsed)))
    return found
