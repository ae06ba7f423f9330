"""Mentions of the masking key or the platform's secrets (file names from
`shuyu.secrets`, the secrets mount, the key's environment variable) in code, strings or
comments, or computed from strings."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence

from shuyu import secrets as platform_secrets
from shuyu.data.masking.key import KEY_FILE_ENV
from shuyu.selfcheck.static_code.findings import CodeFinding, shown
from shuyu.selfcheck.static_code.folding import Folder
from shuyu.settings import PlatformSettings

SECRET_MARKERS: tuple[str, ...] = tuple(
    dict.fromkeys(
        m.lower()
        for m in (
            platform_secrets.MASKING_KEY,
            platform_secrets.MLFLOW_GATE_PASSWORD,
            platform_secrets.MLFLOW_ADMIN_PASSWORD,
            platform_secrets.HUB_MLFLOW_ADMIN_PASSWORD,
            str(PlatformSettings.model_fields["secrets_dir"].default),
            "shuyu-secrets",
            "var/secrets",
            KEY_FILE_ENV.removesuffix("_FILE"),
        )
    )
)
"""What a reference to the masking key or the platform's secrets looks like."""


def secret_findings(where: str, lines: Sequence[str]) -> list[CodeFinding]:
    found = []
    for number, line in enumerate(lines, start=1):
        markers = ", ".join(m for m in SECRET_MARKERS if m in line.lower())
        if markers:
            found.append(
                CodeFinding(
                    where,
                    number,
                    f"引用了平台密钥或秘密（{markers}）",
                    f"refers to the masking key or a platform secret ({markers})",
                    shown(line),
                )
            )
    return found


def computed_secrets(
    where: str, lines: Sequence[str], tree: ast.Module, folder: Folder
) -> Iterator[CodeFinding]:
    """Names of secrets that only appear once the strings of a unit are computed."""
    for node in ast.walk(tree):
        if not isinstance(node, (ast.BinOp, ast.Call, ast.JoinedStr, ast.Subscript)):
            continue
        text = (folder.text(node) or "").lower()
        line = getattr(node, "lineno", 0)
        raw = lines[line - 1] if 0 < line <= len(lines) else ""
        marker = next((m for m in SECRET_MARKERS if m in text and m not in raw.lower()), None)
        if marker is not None:
            yield CodeFinding(
                where,
                line,
                f"由字符串拼出平台秘密的名字（{marker}）",
                f"builds the name of a platform secret from strings ({marker})",
                shown(raw),
            )
