"""Fixtures shared across test packages are registered here, once."""

pytest_plugins = [
    "tests.integration.platform_fixture",
    "tests.integration.mlflow_server",
    "tests.database_urls",
]
