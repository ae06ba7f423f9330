# The sandbox's kernels: `%pip` is shuyu's (the in-domain index, the workspace, a clear
# word when a package is not approved), not IPython's.
c = get_config()  # noqa: F821 - IPython's config loader provides it
c.InteractiveShellApp.extensions = ["shuyu.sandbox.pip_magic"]
