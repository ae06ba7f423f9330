"""What the product API reads from its environment (`SHUYU_PRODUCT_*`), beside the
platform's own settings (the database, the secrets directory) and the masking key
(`SHUYU_MASKING_KEY_FILE`, which only the product API and the masking job hold)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from shuyu.products.keys import KEY_PEPPER
from shuyu.settings import EnvSettings, PlatformSettings


class ProductSettings(EnvSettings):
    product_tables: Path = Path("/srv/shuyu-products")
    """The products' in-domain feature tables (`<product>.parquet`, built by `shuyu
    products features` from the masked zone): masked data of every subject, so mounted
    (read-only) into the product service only — never a sandbox, a runner or the hub."""

    product_models: Path = Path("/srv/shuyu-product-models")
    """The approved models the shuyu service verified and published for the product API
    (`shuyu.products.published`): written by the service, read-only to the API."""

    product_port: int = Field(default=8700, ge=1, le=65535)
    """Where the product API listens (its container's port; published on the host)."""

    product_key_pepper_file: Path | None = None
    """The API keys' pepper (default: `<secrets_dir>/products_key_pepper`)."""

    product_watch_interval: float = Field(default=30.0, ge=1)
    """Seconds between scans of the audit log for sandbox events (事中检查)."""

    def pepper_file(self, platform: PlatformSettings) -> Path:
        return self.product_key_pepper_file or platform.secrets_dir / KEY_PEPPER
