# shuyu sandbox: Jupyter Server settings that partners cannot change. This file is on the
# read-only root, and the spawner disables every user-writable configuration source
# (JUPYTERHUB_DISABLE_USER_CONFIG); the shuyu server extension refuses to serve if the
# authorizer or the contents manager below are not in place.
import os

# Files leave only through review: the authorizer refuses /files, ?download and
# nbconvert. Under the hub it also keeps the hub's access-scope check.
c.ServerApp.authorizer_class = (
    "shuyu.sandbox.authorizer.HubDownloadDenyingAuthorizer"
    if os.environ.get("JUPYTERHUB_API_TOKEN")
    else "shuyu.sandbox.authorizer.DownloadDenyingAuthorizer"
)
# The editor gets text up to a limit, never binary bodies or data files; uploads are
# limited to small code and notebooks.
c.ServerApp.contents_manager_class = "shuyu.sandbox.contents.SandboxContentsManager"
c.ServerApp.jpserver_extensions = {"shuyu.sandbox.server_extension": True}

# Idle kernels give their memory back; a connected browser tab does not keep one alive.
c.MappingKernelManager.cull_idle_timeout = 3600
c.MappingKernelManager.cull_interval = 600
c.MappingKernelManager.cull_connected = False
c.MappingKernelManager.cull_busy = False

# The root filesystem is read-only and the trash would be another copy of the data.
c.FileContentsManager.delete_to_trash = False

# No announcements, news or update checks: the sandbox has no way out, and must not try.
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.handlers.announcements.NeverCheckForUpdate"
