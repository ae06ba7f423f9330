# shuyu sandbox: Jupyter Server settings that partners cannot change (system config).
import os

# Files leave only through review: the authorizer refuses /files, ?download and
# nbconvert. Under the hub it also keeps the hub's access-scope check.
c.ServerApp.authorizer_class = (
    "shuyu.sandbox.authorizer.HubDownloadDenyingAuthorizer"
    if os.environ.get("JUPYTERHUB_API_TOKEN")
    else "shuyu.sandbox.authorizer.DownloadDenyingAuthorizer"
)

# Idle kernels give their memory back; a connected browser tab does not keep one alive.
c.MappingKernelManager.cull_idle_timeout = 3600
c.MappingKernelManager.cull_interval = 600
c.MappingKernelManager.cull_connected = False
c.MappingKernelManager.cull_busy = False

# The root filesystem is read-only and the trash would be another copy of the data.
c.FileContentsManager.delete_to_trash = False
