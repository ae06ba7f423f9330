"""The strings code builds from literals, computed without running it: concatenation,
repetition, `%` formatting, f-strings, reversal, `"".join([...])`, `map(chr, ...)`,
`chr`, `bytes([...])`, `bytes.fromhex`, `binascii.unhexlify`, base64/32/16,
`codecs.decode(..., "rot13")`, `.decode()`, `.lower()` and kin. A name bound once to such
a value is followed; anything else is unknown (None)."""

from __future__ import annotations

import ast
import base64
import binascii
import codecs
from typing import Any

Folded = str | bytes | int | list[Any] | None


class Folder:
    """Computes the value of string-building expressions made of literals only."""

    def __init__(self, constants: dict[str, str]) -> None:
        self.constants = constants

    def text(self, node: ast.AST) -> str | None:
        value = self.value(node)
        if isinstance(value, bytes):
            return value.decode("latin-1")
        return value if isinstance(value, str) else None

    def value(self, node: ast.AST, depth: int = 0) -> Folded:  # noqa: PLR0911
        if depth > 20:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes, int)):
            return node.value
        if isinstance(node, ast.Name):
            return self.constants.get(node.id)
        if isinstance(node, ast.JoinedStr):
            parts = [
                self.text(v) if not isinstance(v, ast.FormattedValue) else self.text(v.value)
                for v in node.values
            ]
            return "".join(parts) if all(p is not None for p in parts) else None  # type: ignore[arg-type]
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.value(e, depth + 1) for e in node.elts]
            return items if all(i is not None for i in items) else None
        if isinstance(node, ast.BinOp):
            return self._binop(node, depth)
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            base = self.value(node.value, depth + 1)
            if isinstance(base, (str, bytes)) and _is_reversal(node.slice):
                return base[::-1]
            return None
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        return None

    def _binop(self, node: ast.BinOp, depth: int) -> Folded:
        left, right = self.value(node.left, depth + 1), self.value(node.right, depth + 1)
        if (
            isinstance(node.op, ast.Add)
            and type(left) is type(right)
            and isinstance(left, (str, bytes))
        ):
            return left + right  # type: ignore[operator]
        if (
            isinstance(node.op, ast.Mult)
            and isinstance(left, str)
            and isinstance(right, int)
            and right < 64
        ):
            return left * right
        if isinstance(node.op, ast.Mod) and isinstance(left, str) and right is not None:
            try:
                return left % (tuple(right) if isinstance(right, list) else right)
            except (TypeError, ValueError):
                return None
        return None

    def _call(self, node: ast.Call, depth: int) -> Folded:  # noqa: PLR0911
        args = [self.value(a, depth + 1) for a in node.args]
        func = node.func
        if (
            isinstance(func, ast.Name)
            and func.id == "chr"
            and len(args) == 1
            and isinstance(args[0], int)
        ):
            return chr(args[0]) if 0 <= args[0] < 0x110000 else None
        if (
            isinstance(func, ast.Name)
            and func.id in ("bytes", "bytearray")
            and args
            and isinstance(args[0], list)
        ):
            return (
                bytes(args[0])
                if all(isinstance(a, int) and 0 <= a < 256 for a in args[0])
                else None
            )
        if isinstance(func, ast.Name) and func.id == "str" and args and isinstance(args[0], str):
            return args[0]
        if not isinstance(func, ast.Attribute):
            return None
        owner = self.value(func.value, depth + 1)
        dotted = dotted_name(func)
        if func.attr == "join" and isinstance(owner, str) and len(args) == 1:
            items = args[0] if isinstance(args[0], list) else _mapped_chr(node.args[0], self, depth)
            return (
                owner.join(items)
                if items is not None and all(isinstance(i, str) for i in items)
                else None
            )
        if func.attr == "decode" and isinstance(owner, bytes):
            try:
                return owner.decode(*(a for a in args if isinstance(a, str)))
            except (LookupError, UnicodeDecodeError):
                return owner.decode("latin-1")
        if func.attr in ("lower", "upper", "strip", "replace", "encode") and isinstance(owner, str):
            try:
                return getattr(owner, func.attr)(*args)  # type: ignore[no-any-return]
            except (TypeError, LookupError):
                return None
        return _decoded(dotted, args)


def _is_reversal(piece: ast.Slice) -> bool:
    step = piece.step
    return (
        piece.lower is None
        and piece.upper is None
        and isinstance(step, ast.UnaryOp)
        and isinstance(step.op, ast.USub)
        and isinstance(step.operand, ast.Constant)
        and step.operand.value == 1
    )


def _mapped_chr(node: ast.AST, folder: Folder, depth: int) -> list[str] | None:
    """`map(chr, [...])` as its characters."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "map"
        and len(node.args) == 2
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id == "chr"
    ):
        codes = folder.value(node.args[1], depth + 1)
        if isinstance(codes, list) and all(isinstance(c, int) and 0 <= c < 0x110000 for c in codes):
            return [chr(c) for c in codes]
    return None


def _decoded(dotted: str | None, args: list[Folded]) -> Folded:
    """Decoders of literals: hex, base64, rot13."""
    first = args[0] if args else None
    try:
        # a decoder's argument is ASCII; any other text (a chart title in Chinese) is not
        # an encoded payload (UnicodeEncodeError is a ValueError)
        raw = first.encode("latin-1") if isinstance(first, str) else first
        if dotted in ("bytes.fromhex", "bytearray.fromhex") and isinstance(first, str):
            return bytes.fromhex(first)
        if dotted in ("binascii.unhexlify", "binascii.a2b_hex") and isinstance(raw, bytes):
            return binascii.unhexlify(raw)
        if dotted in (
            "base64.b64decode",
            "base64.standard_b64decode",
            "base64.b32decode",
            "base64.b16decode",
        ) and isinstance(raw, bytes):
            return {"base64.b32decode": base64.b32decode, "base64.b16decode": base64.b16decode}.get(
                dotted, base64.b64decode
            )(raw)
        if dotted == "codecs.decode" and isinstance(first, (str, bytes)):
            encoding = args[1] if len(args) > 1 and isinstance(args[1], str) else "utf-8"
            decoded: str | bytes = codecs.decode(first, encoding)  # type: ignore[arg-type]
            return decoded
    except (ValueError, TypeError, LookupError, binascii.Error):
        return None
    return None


def dotted_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value)
        return f"{base}.{node.attr}" if base else None
    return None
