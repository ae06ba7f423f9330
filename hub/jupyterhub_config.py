"""JupyterHub configuration for shuyu: values only; the behaviour lives in shuyu.sandbox.

Settings come from SHUYU_* environment variables (see shuyu/sandbox/settings.py) and the
policies (SHUYU_POLICIES); docker-compose.yml sets both.
"""

import os
import sys

from shuyu.policy import load_policies
from shuyu.sandbox import roles
from shuyu.sandbox.settings import PlatformSettings

settings = PlatformSettings.from_env()
policies = load_policies()

c.JupyterHub.bind_url = "http://0.0.0.0:8000"
c.JupyterHub.hub_bind_url = f"http://0.0.0.0:{settings.hub_api_port}"
c.JupyterHub.hub_connect_url = f"http://{settings.hub_ip}:{settings.hub_api_port}"
STATE = "/srv/jupyterhub/state"  # the hub's named volume
c.JupyterHub.db_url = os.environ.get("SHUYU_HUB_DB_URL", f"sqlite:///{STATE}/jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = f"{STATE}/jupyterhub_cookie_secret"
c.ConfigurableHTTPProxy.pid_file = f"{STATE}/jupyterhub-proxy.pid"

c.JupyterHub.authenticator_class = os.environ.get(
    "SHUYU_AUTHENTICATOR", "shuyu.sandbox.auth.ShuyuNativeAuthenticator"
)
c.Authenticator.allowed_users = roles.usernames(policies)
c.Authenticator.admin_users = roles.admins(policies)
c.JupyterHub.load_groups = roles.groups(policies)
c.JupyterHub.load_roles = roles.roles()
c.JupyterHub.template_vars = {"announcement": "数域 shuyu · 原始数据不出域，数据可用不可见"}

c.JupyterHub.spawner_class = "shuyu.sandbox.spawner.ShuyuSpawner"
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 120
c.Spawner.default_url = "/lab"

c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={settings.idle_timeout}",
            f"--cull-every={settings.cull_every}",
        ],
    }
]
