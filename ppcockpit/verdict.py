"""Go / no-go from the latest readings. The same rule for the header and for `check`."""

from __future__ import annotations

from collections.abc import Iterable

from ppcockpit.model import Decision, Reading, Status, Verdict


def decide(readings: Iterable[Reading], expected: Iterable[str] = ()) -> Verdict:
    """No-go when anything is unavailable (an outage or a breached critical threshold) or
    unknown (the cockpit cannot tell: a probe failed, or the data is inconclusive).

    Degraded is still go: it is shown, but the team's rules do not stop a deploy for it.
    Skipped (not configured) never counts.
    """
    by_name = {r.probe: r for r in readings}
    missing = [name for name in expected if name not in by_name]
    reasons: list[str] = []
    for reading in by_name.values():
        if reading.status is Status.UNAVAILABLE:
            reasons.append(f"{reading.probe}: {reading.summary}")
        elif reading.status is Status.UNKNOWN:
            reasons.append(f"{reading.probe}: cannot verify: {reading.summary}")
    if reasons:
        return Verdict(Decision.NO_GO, tuple(reasons))
    if missing:
        return Verdict(Decision.WAITING, tuple(f"{name}: no reading yet" for name in missing))
    return Verdict(Decision.GO, ())
