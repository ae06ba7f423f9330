"""Offline image builds: a debootstrap base, a host wheelhouse, `docker build --network none`."""
