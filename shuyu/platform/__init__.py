"""Bringing the whole platform up and down on one Docker host (`make up`)."""
