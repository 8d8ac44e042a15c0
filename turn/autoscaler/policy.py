"""When to power the TURN droplet on or off: a pure decision on the relayed count, the droplet's state and time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Action = Literal["power_on", "power_off"]

# The spec's rule: on with more than 5 participants needing a relay, off after 10 minutes with none.
ON_ABOVE = 5
OFF_AFTER_S = 600.0


@dataclass
class ScalePolicy:
    on_above: int = ON_ABOVE
    off_after_s: float = OFF_AFTER_S
    # Since when nobody has needed a relay (None while someone does, or before the first look).
    idle_since: float | None = None

    def decide(self, relayed: int, droplet_active: bool, now: float) -> Action | None:
        """The action to take now, or None. Between the thresholds the droplet keeps its state: no flapping."""
        if relayed > 0:
            self.idle_since = None
        elif self.idle_since is None:
            self.idle_since = now
        if not droplet_active and relayed > self.on_above:
            return "power_on"
        if droplet_active and self.idle_since is not None and now - self.idle_since >= self.off_after_s:
            return "power_off"
        return None
