"""The shuyu service's web layer: pages and REST over `shuyu.review` (and later
production and the product API), behind the hub's OAuth. It only translates HTTP."""
