"""The sandbox's contents manager: the editor gets text, never data.

Jupyter's contents API is how JupyterLab opens a file, and also a way to fetch any file's
bytes from a script (`GET /api/contents/<path>?type=file&format=base64&content=1`). What a
person reads on screen in the editor is unavoidable; bulk export is not. So, with the
limits of `policies/sandbox.yaml`:

- a read with content returns notebooks up to `notebook_max_bytes` and UTF-8 text files
  up to `text_max_bytes`, never a base64 (binary) body, never a data file or archive
  (`data_suffixes`) whatever its size or name;
- an upload (a base64 save, also chunked) is accepted for code and notebooks up to
  `upload_max_bytes`, never for a data file: data comes in through the import airlock.

Reads without content (listings, metadata) are unaffected. Every refusal is reported to
the hub's audit log.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado import web

from shuyu.sandbox.limits import SandboxLimits
from shuyu.sandbox.report import report_event


class SandboxContentsManager(AsyncLargeFileManager):
    @property
    def limits(self) -> SandboxLimits:
        cached: SandboxLimits | None = getattr(self, "_shuyu_limits", None)
        if cached is None:
            cached = SandboxLimits.from_env()
            self._shuyu_limits = cached
        return cached

    def _os_path(self, path: str) -> str:
        return str(self._get_os_path(path.strip("/")))  # type: ignore[no-untyped-call]

    def _refuse(self, action: str, path: str, zh: str, en: str, **details: Any) -> web.HTTPError:
        self.log.warning("shuyu: refused %s of %s: %s", action, path, en)
        report_event(f"sandbox.{action}", path=path, reason=en, **details)
        return web.HTTPError(403, f"{zh} / {en}")

    async def get(
        self,
        path: str,
        content: bool = True,
        type: str | None = None,
        format: str | None = None,
        require_hash: bool = False,
    ) -> dict[str, Any]:
        if not content:
            return await self._get(path, False, type, format, require_hash)
        os_path = self._os_path(path)
        if os.path.isdir(os_path):
            return await self._get(path, True, type, format, require_hash)
        limits = self.limits
        if limits.is_data_file(path):
            raise self._refuse(
                "download",
                path,
                "数据文件不能在浏览器中打开，请在笔记本中读取。",
                "data files are not served to the browser; read them in a notebook",
            )
        if format == "base64":
            raise self._refuse(
                "download",
                path,
                "不提供文件的二进制内容。",
                "binary (base64) file contents are not served",
            )
        try:
            size = os.path.getsize(os_path)
        except OSError:
            return await self._get(path, True, type, format, require_hash)
        notebook = type == "notebook" or (type is None and path.endswith(".ipynb"))
        limit = limits.notebook_max_bytes if notebook else limits.text_max_bytes
        if size > limit:
            raise self._refuse(
                "download",
                path,
                f"文件过大（{size} 字节，上限 {limit}），不在浏览器中打开。",
                f"the file is too large to open in the browser ({size} bytes, limit {limit})",
                bytes=size,
            )
        model = await self._get(path, True, type, "text" if not notebook else format, require_hash)
        if model.get("format") == "base64":
            raise self._refuse(
                "download", path, "不提供二进制文件的内容。", "binary files are not served"
            )
        return model

    async def _get(
        self,
        path: str,
        content: bool,
        type: str | None,
        format: str | None,
        require_hash: bool,
    ) -> dict[str, Any]:
        try:
            model: dict[str, Any] = await super().get(  # type: ignore[no-untyped-call]
                path, content=content, type=type, format=format, require_hash=require_hash
            )
        except web.HTTPError as exc:
            # asked as text, a binary file fails to decode: that is a refusal, not a 400
            if content and format == "text" and exc.status_code == 400 and "UTF-8" in str(exc):
                raise self._refuse(
                    "download", path, "不提供二进制文件的内容。", "binary files are not served"
                ) from None
            raise
        return model

    async def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
        if model.get("type") == "file" and model.get("format") == "base64":
            self._check_upload(model, path)
        return dict(await super().save(model, path))  # type: ignore[no-untyped-call]

    def _check_upload(self, model: dict[str, Any], path: str) -> None:
        limits = self.limits
        if limits.is_data_file(path):
            raise self._refuse(
                "upload",
                path,
                "数据文件请通过导入审核通道提交：/services/shuyu/airlock",
                "data files come in through the import airlock (/services/shuyu/airlock), "
                "not upload",
            )
        encoded = model.get("content") or ""
        incoming = len(encoded) * 3 // 4
        chunk = model.get("chunk")
        so_far = 0
        if chunk not in (None, 1):
            try:
                so_far = os.path.getsize(self._os_path(path))
            except OSError:
                so_far = 0
        if so_far + incoming > limits.upload_max_bytes:
            if chunk not in (None, 1):
                # a refused chunked upload leaves no partial file behind
                with contextlib.suppress(OSError):
                    os.unlink(self._os_path(path))
            raise self._refuse(
                "upload",
                path,
                f"上传文件超过 {limits.upload_max_bytes} 字节；更大的文件请通过导入审核通道提交："
                "/services/shuyu/airlock",
                f"uploads are limited to {limits.upload_max_bytes} bytes; larger files come in "
                "through the import airlock (/services/shuyu/airlock)",
                bytes=so_far + incoming,
            )
