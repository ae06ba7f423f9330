"""Looking into a running container as the partner (or as root) would."""

from __future__ import annotations

import json
import subprocess
from typing import Any


def inspect(name: str) -> dict[str, Any]:
    out = subprocess.run(["docker", "inspect", name], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]  # type: ignore[no-any-return]


def exec_in(
    container: str,
    *cmd: str,
    user: str | None = None,
    stdin: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `cmd` in the container (as its own user unless `user` is given)."""
    args = ["docker", "exec", *(["-i"] if stdin is not None else [])]
    args += ["--user", user] if user else []
    return subprocess.run(
        [*args, container, *cmd],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        input=stdin,
    )


def python_in(container: str, code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return exec_in(container, "python", "-c", code, timeout=timeout)


INSPECT_RUNNER = """
# what a runner job sees of itself, written to /output/seen.json (input: /input/spec.json)
import json, os, socket, pathlib
status = dict(l.split(':\\t', 1) for l in open('/proc/self/status') if ':\\t' in l)
def writable(path):
    try:
        pathlib.Path(path, 'probe').write_text('x'); return True
    except OSError:
        return False
def connects():
    try:
        socket.create_connection(('198.51.100.1', 443), timeout=2); return True
    except OSError:
        return False
pathlib.Path('/output/seen.json').write_text(json.dumps({
    'uid': os.getuid(),
    'cap_eff': status['CapEff'].strip(),
    'no_new_privs': status['NoNewPrivs'].strip(),
    'interfaces': sorted(os.listdir('/sys/class/net')),
    'connects': connects(),
    'input': open('/input/spec.json').read(),
    'input_writable': writable('/input'),
    'root_writable': writable('/opt'),
    'secrets': sorted(k for k in os.environ if 'PASSWORD' in k or 'TOKEN' in k),
}))
"""
