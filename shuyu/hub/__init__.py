"""Code that runs in the JupyterHub process: the spawner, the authenticator, roles and
groups, who gets a sandbox, MLflow credentials for a spawn, and the hub's own periodic
checks. Nothing here runs in a sandbox."""
