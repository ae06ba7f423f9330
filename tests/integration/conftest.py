"""Shared fixtures for tests against real components."""

from __future__ import annotations

import os
import subprocess

import pytest


def _image_exists(image: str) -> bool:
    return (
        subprocess.run(
            ["docker", "image", "inspect", image], capture_output=True, check=False
        ).returncode
        == 0
    )


@pytest.fixture(scope="session")
def base_image() -> str:
    """The debootstrap base image (python3 inside), built by `shuyu images build`."""
    image = os.environ.get("SHUYU_TEST_BASE_IMAGE", "shuyu/base:bookworm")
    if not _image_exists(image):
        pytest.fail(f"image {image} not found: run `shuyu images build` (make images) first")
    return image
