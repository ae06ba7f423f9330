"""When an enterprise's events happen: never before it was established."""

from __future__ import annotations

import numpy as np

from shuyu.data.generate.sampling import Days, Ints, day
from shuyu.data.generate.world import World


def since_established(
    world: World, rng: np.random.Generator, owner: Ints, window: int, *, recent: int = 0
) -> Days:
    """A day for each event row: in the last `window` days, but not before its
    enterprise was established, and at least `recent` days before the extract."""
    established = world.enterprises.established[owner]
    last = day(world.as_of) - np.timedelta64(recent, "D")
    first = np.maximum(day(world.as_of) - np.timedelta64(window, "D"), established)
    span = np.maximum((last - first).astype(np.int64), 0)
    offset = (rng.random(owner.size) * (span + 1)).astype(np.int64)
    dates: Days = first + offset.astype("timedelta64[D]")
    return dates
