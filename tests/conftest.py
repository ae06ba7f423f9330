"""Fixtures shared across test packages are registered here, once."""

# tests.database_urls first: the other two import it, and a plugin module imported before
# it is registered is not assertion-rewritten
pytest_plugins = [
    "tests.database_urls",
    "tests.integration.platform_fixture",
    "tests.integration.mlflow_server",
]
