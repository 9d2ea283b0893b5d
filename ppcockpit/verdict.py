"""Go / no-go from the latest readings. The same rule for the header and for `check`."""

from __future__ import annotations

from collections.abc import Iterable

from ppcockpit.model import Decision, Reading, Status, Verdict

NOTHING_CHECKED = "nothing was checked: every probe is disabled or not configured"


def decide(readings: Iterable[Reading], expected: Iterable[str] = ()) -> Verdict:
    """No-go when anything is unavailable (an outage or a breached critical threshold) or
    unknown (the cockpit cannot tell: a probe failed, or the data is inconclusive).

    Degraded is still go: it is shown, but the team's rules do not stop a deploy for it.
    Skipped (not configured) never counts, but nothing checked at all is no-go.
    """
    by_name = {r.probe: r for r in readings}
    missing = [name for name in expected if name not in by_name]
    reasons: list[str] = []
    warnings: list[str] = []
    for reading in by_name.values():
        if reading.status is Status.UNAVAILABLE:
            reasons.append(f"{reading.probe}: {reading.summary}")
        elif reading.status is Status.UNKNOWN:
            reasons.append(f"{reading.probe}: cannot verify: {reading.summary}")
        elif reading.status is Status.DEGRADED:
            warnings.append(f"{reading.probe}: {reading.summary}")
    skipped = tuple(r.probe for r in by_name.values() if r.status is Status.SKIPPED)
    found = {"warnings": tuple(warnings), "not_configured": skipped}
    if reasons:
        return Verdict(Decision.NO_GO, tuple(reasons), **found)
    if missing:
        return Verdict(Decision.WAITING, tuple(f"{name}: no reading yet" for name in missing),
                       **found)
    if len(skipped) == len(by_name):
        # A GO from no evidence at all would read like a GO from all of it.
        return Verdict(Decision.NO_GO, (NOTHING_CHECKED,), **found)
    return Verdict(Decision.GO, (), **found)
