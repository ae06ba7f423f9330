"""数域 shuyu: a secure data sandbox for the authorised operation of public data.

原始数据不出域，数据可用不可见 — raw data never leaves the domain; partners use it
without seeing it.
"""

__version__ = "0.1.0"
