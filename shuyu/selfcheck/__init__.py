"""The security self-check (安全自查): the four risk factors of the seed plans, each a set
of registered checks that return evidence, run by platform code only in a check runner
(the holdout and the snapshot mounted read-only, no network, no credential), reported as
JSON (`SelfCheckReport`) and as a bilingual HTML report."""
