"""JupyterHub configuration for shuyu: values only; the behaviour lives in shuyu.hub.

Settings come from SHUYU_* environment variables (shuyu/settings.py) and the policies
($SHUYU_POLICIES); docker-compose.yml sets both. The hub runs as `python -m
shuyu.hub.app` (JupyterHub with shuyu's sandbox gate, report endpoint and periodic
check).
"""

import os
import sys
from pathlib import Path

from shuyu.hub import roles
from shuyu.policy import load_policies
from shuyu.secrets import HUB_SERVICE_TOKEN, read_secret
from shuyu.settings import HubSettings, PlatformSettings

settings = PlatformSettings.from_env()
hub_settings = HubSettings.from_env()
policies = load_policies()

# HTTPS on 8443 (the certificate from `make up`, or the site's own in the hub's secrets);
# plain HTTP on 8000 only redirects there. Cookies are then Secure.
TLS = settings.secrets_dir
c.JupyterHub.bind_url = "https://0.0.0.0:8443"
c.JupyterHub.ssl_cert = str(TLS / "tls.crt")
c.JupyterHub.ssl_key = str(TLS / "tls.key")
c.ConfigurableHTTPProxy.command = [
    "configurable-http-proxy",
    "--redirect-port=8000",
    f"--redirect-to={os.environ.get('SHUYU_HTTPS_PUBLIC_PORT', '8443')}",
]
c.JupyterHub.tornado_settings = {"cookie_options": {"secure": True}}
c.JupyterHub.hub_bind_url = f"http://0.0.0.0:{settings.hub_api_port}"
c.JupyterHub.hub_connect_url = f"http://{settings.hub_ip}:{settings.hub_api_port}"
STATE = "/srv/jupyterhub/state"  # the hub's named volume
c.JupyterHub.db_url = hub_settings.hub_db_url
c.JupyterHub.cookie_secret_file = f"{STATE}/jupyterhub_cookie_secret"
c.ConfigurableHTTPProxy.pid_file = f"{STATE}/jupyterhub-proxy.pid"
c.ShuyuHub.shuyu_state_dir = STATE
c.ShuyuHub.shuyu_watch_interval = settings.watch_interval

c.JupyterHub.authenticator_class = hub_settings.authenticator
c.Authenticator.allowed_users = roles.usernames(policies)
# no JupyterHub admins: the data bureau's administrators hold the platform-admin role,
# which can manage users and servers but never enter a partner's server or mint tokens
c.Authenticator.admin_users = set()
c.ShuyuNativeAuthenticator.signup_users = roles.partner_usernames(policies)
c.JupyterHub.load_groups = roles.groups(policies)
c.JupyterHub.custom_scopes = roles.CUSTOM_SCOPES
# the shuyu service (review, self-check, registry gate) is registered when `make up`
# made its token: its pages under /services/shuyu/, through this proxy
service_token = settings.secrets_dir / HUB_SERVICE_TOKEN
with_service = service_token.is_file()
c.JupyterHub.load_roles = roles.roles(with_service=with_service)
c.JupyterHub.template_vars = {"announcement": "数域 shuyu · 原始数据不出域，数据可用不可见"}
# the hub's own pages (sign-in, home, errors) in Chinese with English
c.JupyterHub.template_paths = [str(Path(roles.__file__).parent / "templates")]
c.JupyterHub.default_url = roles.landing_url

c.JupyterHub.spawner_class = "shuyu.hub.spawner.ShuyuSpawner"
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 120
c.Spawner.default_url = "/lab"

c.JupyterHub.services = [
    *(
        [
            {
                "name": roles.SERVICE,
                "url": settings.service_url,
                "api_token": read_secret(service_token),
                "oauth_no_confirm": True,
                "oauth_client_allowed_scopes": [
                    "read:users:name!user",
                    "read:users:groups!user",
                ],
            }
        ]
        if with_service
        else []
    ),
    {
        "name": "idle-culler",
        "command": [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={settings.idle_timeout}",
            f"--cull-every={settings.cull_every}",
            # however active: a server does not outlive this age (policies/sandbox.yaml)
            f"--max-age={policies.sandbox.max_server_age_seconds}",
        ],
    },
]
