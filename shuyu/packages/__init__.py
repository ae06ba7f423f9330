"""Packages brought into the domain: partners ask for a package, an administrator
approves it, the host downloads and checks its wheels and the in-domain index serves
them to the sandboxes (`pip install --user NAME`)."""
