"""A walk's steps as the person watching reads them: the number, what is done (zh-CN,
then English), how long it took and its evidence; the first step that fails ends the
walk, named, and the command exits non-zero."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from shuyu.errors import ShuyuError

Say = Callable[[str], None]


class StepFailed(ShuyuError):
    def __init__(self, walk: str, number: int, title: str, reason: str) -> None:
        super().__init__(f"{walk} walk, step {number} ({title}) failed: {reason}")
        self.walk, self.number, self.title, self.reason = walk, number, title, reason


@dataclass
class Evidence:
    lines: list[str] = field(default_factory=list)

    def __call__(self, line: str) -> None:
        self.lines.append(line)


@dataclass
class Walk:
    name: str
    say: Say
    done: int = 0

    @contextlib.contextmanager
    def step(self, zh: str, en: str) -> Iterator[Evidence]:
        number = self.done + 1
        title = f"{zh} · {en}"
        self.say(f"[{self.name} {number}] {title} …")
        evidence = Evidence()
        started = time.monotonic()
        try:
            yield evidence
        except StepFailed:
            raise
        except Exception as exc:  # any failure of the stack ends the walk, named
            raise StepFailed(self.name, number, title, str(exc) or type(exc).__name__) from exc
        for line in evidence.lines:
            self.say(f"      {line}")
        self.say(f"      ✓ {time.monotonic() - started:.1f} s")
        self.done = number


def expect(condition: bool, message: str) -> None:
    """A step's own check: its failure is the step's reason."""
    if not condition:
        raise ShuyuError(message)
