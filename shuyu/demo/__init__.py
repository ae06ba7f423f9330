"""`shuyu demo`: scripted walks of a data product through the running platform — each
step done the way its user does it (the hub's login, the partner's own container, the
service's REST API, the staff's commands), printed with its evidence."""
