"""Reading a health answer (Pocket Philosopher, IETF health+json, Spring Boot) into plain data.

Pure: no I/O. `parse_health` never raises, whatever the bytes: a body it cannot read becomes a
document of format "invalid" whose `problem` says why in one line.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import msgspec

from ppcockpit.model import Status
from ppcockpit.text import one_line
from probes.body import json_kind

PROVIDER_PREFIX = "ai:"
MAX_COMPONENTS = 100  # rows kept from one answer; the rest are counted in `omitted`
COUNT_KEYS = ("successCount", "failureCount", "degradedCount")

_PROVIDER_STATUSES = {
    "healthy": Status.HEALTHY,
    "degraded": Status.DEGRADED,
    "unavailable": Status.UNAVAILABLE,
}
_IETF_STATUSES = {
    "pass": Status.HEALTHY, "ok": Status.HEALTHY, "up": Status.HEALTHY,
    "warn": Status.DEGRADED,
    "fail": Status.UNAVAILABLE, "error": Status.UNAVAILABLE, "down": Status.UNAVAILABLE,
}
_SPRING_STATUSES = {
    "UP": Status.HEALTHY,
    "DOWN": Status.UNAVAILABLE,
    "OUT_OF_SERVICE": Status.UNAVAILABLE,
    "UNKNOWN": Status.UNKNOWN,
}
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_LITERALS = ("true", "false", "null")


class HealthComponent(msgspec.Struct, frozen=True):
    """One dependency, provider or component as the answer reported it."""

    key: str  # stable row key: "supabase", "analytics", "ai:<id>", a component name
    label: str
    status: Status
    latency_ms: float | None = None
    message: str = ""
    configured: bool | None = None  # providers only: configuration "configured"/"missing"
    counts: dict[str, int] = msgspec.field(default_factory=dict)
    raw_status: str = ""  # the answer's own word ("error", "disabled", "DOWN"), for summaries

    @property
    def provider_id(self) -> str | None:
        return self.key[len(PROVIDER_PREFIX):] if self.key.startswith(PROVIDER_PREFIX) else None


class HealthDocument(msgspec.Struct, frozen=True):
    """What one health answer said, or why it could not be read."""

    format: str  # "pocket-philosopher" | "ietf" | "spring" | "invalid"
    status: Status  # overall, counting every component (see overall_status for ignores)
    http_status: int = 0
    components: tuple[HealthComponent, ...] = ()
    problem: str = ""  # why the body could not be read (format "invalid"), one line
    error: str = ""  # the app's own error text, e.g. "Health check failed", one line
    declared: Status | None = None  # the document's own top-level status
    omitted: int = 0  # components left out past MAX_COMPONENTS (IETF and Spring count them)
    # What the answer holds, or lacks, that the cockpit does not recognise ("data.status
    # 'error' not recognised", "aiProviders not reported"): any of it makes the whole unknown.
    unrecognised: tuple[str, ...] = ()
    declared_word: str = ""  # the document's own status word ("degraded", "UNKNOWN", "warn")

    @property
    def valid(self) -> bool:
        return self.format != "invalid"


class _Shape(Exception):
    """Valid JSON of a shape we do not understand (internal signal)."""


def parse_health(status_code: int, content_type: str, body: bytes) -> HealthDocument:
    """Interpret one HTTP answer from a health route. Never raises."""
    try:
        return _interpret(status_code, content_type, body)
    except Exception as exc:  # a parser bug must not take the probe down; the tests hunt for it
        return _invalid(status_code, f"unreadable health answer (parser bug: {type(exc).__name__})")


def overall_status(doc: HealthDocument, ignored: frozenset[str] = frozenset()) -> Status:
    """The go/no-go view of a document; providers whose id is in `ignored` do not count.

    Fails closed: healthy only when the document's own status and every counted component's
    were recognised and good; anything not recognised (a word, a missing field) is unknown.
    """
    if not doc.valid or not 200 <= doc.http_status < 300 or doc.declared is Status.UNAVAILABLE:
        return Status.UNAVAILABLE
    counted = [c.status for c in doc.components if c.provider_id not in ignored]
    if Status.UNAVAILABLE in counted:
        return Status.UNAVAILABLE
    if doc.unrecognised or doc.declared in (None, Status.UNKNOWN) or Status.UNKNOWN in counted:
        return Status.UNKNOWN
    if doc.declared is Status.DEGRADED or Status.DEGRADED in counted:
        return Status.DEGRADED
    return Status.HEALTHY


def media_type(content_type: str) -> str:
    return one_line(content_type.split(";", 1)[0].strip().lower(), 60)


# --- decoding -------------------------------------------------------------------------------


def _interpret(status_code: int, content_type: str, body: bytes) -> HealthDocument:
    mtype = media_type(content_type)
    text = body.decode("utf-8-sig", errors="replace")
    stripped = text.strip()
    if not stripped:
        return _invalid(status_code, "empty body")
    try:
        value = json.loads(stripped)
    except RecursionError:
        return _invalid(status_code, "unexpected JSON shape: nested too deeply")
    except json.JSONDecodeError as err:
        if stripped[0] in "{[" and _looks_truncated(stripped, err):
            return _invalid(status_code, "truncated JSON")
        return _invalid(status_code, f"not JSON ({mtype or 'no content type'}): {_gist(body)}")
    except ValueError as err:  # e.g. an integer with too many digits
        return _invalid(status_code, f"unreadable JSON: {one_line(err, 80)}")
    try:
        return _from_json(status_code, mtype, value)
    except _Shape as shape:
        return _invalid(status_code, f"unexpected JSON shape: {shape}")


def _looks_truncated(text: str, err: json.JSONDecodeError) -> bool:
    tail = text[err.pos:]
    if not tail or err.msg.startswith("Unterminated string"):
        return True
    return err.msg == "Expecting value" and any(lit.startswith(tail) for lit in _LITERALS)


def _gist(body: bytes) -> str:
    """The page title of an HTML answer, else its first 60 characters."""
    match = _TITLE.search(body[:65536])
    if match:
        import html  # only for an HTML error page: off the cockpit's start

        title = one_line(html.unescape(match.group(1).decode("utf-8", errors="replace")), 80)
        if title:
            return title
    return one_line(body[:240].decode("utf-8", errors="replace"), 60) or "(blank)"


def _invalid(status_code: int, problem: str) -> HealthDocument:
    return HealthDocument(format="invalid", status=Status.UNAVAILABLE, http_status=status_code,
                          problem=one_line(problem))


def _from_json(status_code: int, mtype: str, value: Any) -> HealthDocument:
    if not isinstance(value, dict):
        raise _Shape(f"{json_kind(value)}, expected an object")
    if isinstance(value.get("success"), bool):
        return _pocket_philosopher(status_code, value)
    status = value.get("status")
    if not isinstance(status, str):
        keys = ", ".join(one_line(k, 20) for k in list(value)[:5]) or "none"
        raise _Shape(f"object without success or status (keys: {keys})")
    is_health_json = mtype == "application/health+json"
    if status in _SPRING_STATUSES and not is_health_json:
        return _spring(status_code, value)
    if status.lower() in _IETF_STATUSES:
        return _ietf(status_code, value)
    if "components" in value:
        return _spring(status_code, value)
    raise _Shape(f"status {one_line(status, 30)!r} is not a known health status")


def _finish(fmt: str, status_code: int, components: list[HealthComponent], *,
            declared: Status | None, error: str = "", total: int | None = None,
            unrecognised: tuple[str, ...] = (), declared_word: str = "") -> HealthDocument:
    kept = tuple(components[:MAX_COMPONENTS])
    total = len(components) if total is None else total
    doc = HealthDocument(format=fmt, status=Status.UNKNOWN, http_status=status_code,
                         components=kept, error=one_line(error), declared=declared,
                         omitted=max(0, total - len(kept)), unrecognised=unrecognised,
                         declared_word=one_line(declared_word, 30))
    return msgspec.structs.replace(doc, status=overall_status(doc))


# --- Pocket Philosopher ---------------------------------------------------------------------


def _pocket_philosopher(status_code: int, envelope: dict[str, Any]) -> HealthDocument:
    fmt = "pocket-philosopher"
    if envelope["success"]:
        payload = envelope.get("data")
        if not isinstance(payload, dict):
            raise _Shape(f"data is {json_kind(payload)}, expected an object")
        declared, status_note = _declared_pp(payload)
        rows, notes = _payload_components(payload)
        return _finish(fmt, status_code, rows, declared=declared,
                       unrecognised=(*status_note, *notes),
                       declared_word=_word(payload.get("status")))
    error = _text(envelope.get("error")) or "request failed"
    details = envelope.get("details")
    if isinstance(details, dict) and isinstance(details.get("dependencies"), dict):
        # success=false is the app saying it is not working, whatever data.status says.
        rows, notes = _payload_components(details)
        return _finish(fmt, status_code, rows, declared=Status.UNAVAILABLE, error=error,
                       unrecognised=notes)
    message = _text(details.get("message")) if isinstance(details, dict) else _text(details)
    if message:
        error = f"{error} — {message}"
    return _finish(fmt, status_code, [], declared=Status.UNAVAILABLE, error=error)


def _declared_pp(payload: dict[str, Any]) -> tuple[Status, tuple[str, ...]]:
    """data.status ("ok" | "degraded"), and a note when it is anything else or absent."""
    word = _word(payload.get("status"))
    declared = {"ok": Status.HEALTHY, "degraded": Status.DEGRADED}.get(word)
    if declared is not None:
        return declared, ()
    return Status.UNKNOWN, (f"status {word!r} not recognised" if word else "no status",)


def _payload_components(payload: dict[str, Any]) -> tuple[list[HealthComponent], tuple[str, ...]]:
    """The rows of a PAYLOAD, and what it lacks that the cockpit needs (see `unrecognised`)."""
    deps = payload.get("dependencies")
    if not isinstance(deps, dict):
        raise _Shape(f"dependencies is {json_kind(deps)}, expected an object")
    notes: list[str] = []
    rows = [
        _dependency("supabase", deps.get("supabase"), {"ok": (Status.HEALTHY, ""),
                                                       "error": (Status.UNAVAILABLE, "")}),
        _dependency("analytics", deps.get("analytics"), {
            "ok": (Status.HEALTHY, ""),
            "disabled": (Status.DEGRADED, "disabled (no PostHog key)")}),
    ]
    ai = deps.get("aiProviders")
    if not isinstance(ai, dict):
        notes.append("aiProviders not reported" if ai is None else
                     f"aiProviders is {json_kind(ai)}, expected an object")
        ai = {}
    elif not isinstance(ai.get("configuration"), dict):
        notes.append("aiProviders.configuration not reported")
    stats = ai.get("stats") if isinstance(ai.get("stats"), dict) else {}
    configuration = ai.get("configuration") if isinstance(ai.get("configuration"), dict) else {}
    seen: set[str] = set()
    for raw_id in [*configuration, *stats]:
        provider_id = one_line(raw_id, 40)
        if provider_id in seen or not provider_id:
            continue
        if len(seen) >= MAX_COMPONENTS:
            break  # an open provider set, but not an unbounded one
        seen.add(provider_id)
        rows.append(_provider(provider_id, configuration.get(raw_id), stats.get(raw_id)))
    return rows, tuple(notes)


def _dependency(key: str, entry: Any,
                meanings: dict[str, tuple[Status, str]]) -> HealthComponent:
    if not isinstance(entry, dict):
        return HealthComponent(key, key, Status.UNKNOWN, message="not reported")
    word = _word(entry.get("status"))
    status, default_message = meanings.get(word, (Status.UNKNOWN, ""))
    message = _text(entry.get("message")) or default_message
    if status is Status.UNKNOWN and not message:
        message = f"unexpected status {word!r}" if word else "no status"
    return HealthComponent(key, key, status, latency_ms=_latency(entry.get("latencyMs")),
                           message=message, raw_status=word)


def _provider(provider_id: str, configuration: Any, stats: Any) -> HealthComponent:
    configured = {"configured": True, "missing": False}.get(_word(configuration))
    if configured is None and configuration is not None:
        # Present but not a word we know: whether this provider matters cannot be told.
        word = _word(configuration)
        return HealthComponent(
            PROVIDER_PREFIX + provider_id, provider_id, Status.UNKNOWN,
            message=f"configuration {word!r} not recognised" if word
            else "configuration not recognised", raw_status=word)
    stats = stats if isinstance(stats, dict) else {}
    word = _word(stats.get("status"))
    counts = {k: v for k in COUNT_KEYS if _is_int(v := stats.get(k))}
    latency = _latency(stats.get("latencyMs"))
    key = PROVIDER_PREFIX + provider_id
    if configured is False:
        # A missing key is "not configured", never an outage, whatever the stats say.
        return HealthComponent(key, provider_id, Status.SKIPPED, latency_ms=latency,
                               message="not configured", configured=False, counts=counts,
                               raw_status="not configured")
    status = _PROVIDER_STATUSES.get(word, Status.UNKNOWN)
    message = _error_message(stats.get("error"))
    if status is Status.UNKNOWN and not message:
        message = f"unexpected status {word!r}" if word else "no health stats yet"
    return HealthComponent(key, provider_id, status, latency_ms=latency, message=message,
                           configured=configured, counts=counts, raw_status=word)


def _error_message(error: Any) -> str:
    if isinstance(error, dict):
        for name in ("message", "code", "name"):
            if text := _text(error.get(name)):
                return text
        return ""
    return _text(error)


# --- IETF health+json and Spring Boot -------------------------------------------------------


def _ietf(status_code: int, doc: dict[str, Any]) -> HealthDocument:
    checks = doc.get("checks")
    checks = checks if isinstance(checks, dict) else {}
    rows: list[HealthComponent] = []
    total = 0
    for raw_name, entries in checks.items():
        name = one_line(raw_name, 60)
        items = entries if isinstance(entries, list) else [entries]
        total += len(items)
        for index, item in enumerate(items[: max(0, MAX_COMPONENTS - len(rows))]):
            rows.append(_ietf_check(name, index, len(items), item))
    return _finish("ietf", status_code, rows, declared=_IETF_STATUSES[doc["status"].lower()],
                   declared_word=doc["status"],
                   error=_text(doc.get("output")), total=total)


def _ietf_check(name: str, index: int, total: int, item: Any) -> HealthComponent:
    item = item if isinstance(item, dict) else {}
    word = _word(item.get("status"))
    status = _IETF_STATUSES.get(word, Status.UNKNOWN)
    component_id = _text(item.get("componentId"))[:60]
    suffix = component_id or (str(index) if total > 1 else "")
    key = f"{name}/{suffix}" if suffix else name
    label = f"{name} ({component_id})" if component_id else key
    value, unit = item.get("observedValue"), _text(item.get("observedUnit"))[:20]
    latency = None
    if _is_number(value) and unit in ("ms", "s"):
        latency = _latency(value * 1000 if unit == "s" else value)
    message = _text(item.get("output"))
    if not message and _is_number(value):
        message = f"{value:g} {unit}".strip()
    if status is Status.UNKNOWN and not message:
        message = f"unexpected status {word!r}" if word else "no status"
    return HealthComponent(key, label, status, latency_ms=latency, message=message,
                           raw_status=word)


def _spring(status_code: int, doc: dict[str, Any]) -> HealthDocument:
    components = doc.get("components")
    if not isinstance(components, dict):
        old_style = doc.get("details")  # Spring Boot 2.0 nested components under "details"
        components = old_style if isinstance(old_style, dict) else {}
    rows = []
    for raw_name, entry in list(components.items())[:MAX_COMPONENTS]:
        name = one_line(raw_name, 60)
        entry = entry if isinstance(entry, dict) else {}
        raw = entry.get("status")
        word = one_line(raw, 30) if isinstance(raw, str) else ""
        status = _SPRING_STATUSES.get(word.upper(), Status.UNKNOWN)
        details = entry.get("details")
        message = ""
        if isinstance(details, dict):
            message = _text(details.get("error")) or _text(details.get("message"))
        if status is Status.UNKNOWN and not message:
            message = f"unexpected status {word!r}" if word else "no status"
        rows.append(HealthComponent(name, name, status, message=message, raw_status=word))
    declared = _SPRING_STATUSES.get(doc["status"].upper(), Status.UNKNOWN)
    return _finish("spring", status_code, rows, declared=declared, total=len(components),
                   declared_word=doc["status"])


# --- small tolerant readers -----------------------------------------------------------------


def _word(value: Any) -> str:
    return one_line(value, 30).lower() if isinstance(value, str) else ""


def _text(value: Any) -> str:
    if isinstance(value, str):
        return one_line(value)
    if _is_number(value):
        return one_line(value)
    return ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A plain, finite, printable number (JSON allows NaN, Infinity and 4000-digit ints)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < 10**15
    return isinstance(value, float) and math.isfinite(value)


def _latency(value: Any) -> float | None:
    if not _is_number(value) or value < 0 or value > 1e9:
        return None
    return float(value)
