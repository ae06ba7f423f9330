"""Masking (脱敏): raw tables in the domain to the masked zone.

`key` reads and creates the masking key, `pseudonym` turns identifiers into keyed
pseudonyms, `rules` builds one vectorised expression per catalogue rule, `kanon`
suppresses entities until every quasi-identifier class covers k of them, `report`
describes what was done, and `mask` runs it all into a staged directory.
"""
