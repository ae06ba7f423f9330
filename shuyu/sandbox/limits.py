"""The sandbox policy's limits as the sandbox's Jupyter server receives them.

The spawner writes them into the container's environment from `policies/sandbox.yaml`;
the server reads them once at start-up (`shuyu.sandbox.contents`,
`shuyu.sandbox.server_extension`). Partner code cannot change a running server's
environment, and no file a partner can write is read for them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from shuyu.errors import InputError
from shuyu.policy.models import SandboxPolicy

PREFIX = "SHUYU_LIMIT_"


@dataclass(frozen=True)
class SandboxLimits:
    text_max_bytes: int
    notebook_max_bytes: int
    upload_max_bytes: int
    data_suffixes: tuple[str, ...]
    egress_bytes_per_hour: int

    @classmethod
    def from_policy(cls, policy: SandboxPolicy) -> SandboxLimits:
        return cls(
            text_max_bytes=policy.text_max_bytes,
            notebook_max_bytes=policy.notebook_max_bytes,
            upload_max_bytes=policy.upload_max_bytes,
            data_suffixes=tuple(policy.data_suffixes),
            egress_bytes_per_hour=policy.egress_bytes_per_hour,
        )

    @classmethod
    def default(cls) -> SandboxLimits:
        """The policy model's defaults, for a server started outside the hub."""
        return cls.from_policy(SandboxPolicy())

    def to_env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            text = ",".join(value) if isinstance(value, tuple) else str(value)
            env[PREFIX + f.name.upper()] = text
        return env

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SandboxLimits:
        """The limits the spawner set; the policy defaults where none are set."""
        source = os.environ if env is None else env
        if not any(k.startswith(PREFIX) for k in source):
            return cls.default()
        values: dict[str, object] = {}
        for f in fields(cls):
            key = PREFIX + f.name.upper()
            raw = source.get(key)
            if raw is None:
                raise InputError(key, "missing", hint="the spawner sets every SHUYU_LIMIT_*")
            if f.name == "data_suffixes":
                values[f.name] = tuple(s for s in raw.split(",") if s)
            else:
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise InputError(key, "not an integer", value=raw) from None
        return cls(**values)  # type: ignore[arg-type]

    def is_data_file(self, name: str) -> bool:
        lowered = name.lower()
        return any(lowered.endswith(suffix) for suffix in self.data_suffixes)
