"""Secrets parity (runbook section 2): two .env exports compared key by key.

A value is read, compared and checked for shape, and then only ever named by its
fingerprint (sha256/8): no value reaches a Reading, a log or an exception message, and
none is kept on the probe between checks.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from ppcockpit.config_model import SecretsProbeConfig
from ppcockpit.model import ProbeMisconfigured, Reading, Row, Status
from ppcockpit.secrets import fingerprint
from ppcockpit.units import size
from probes.body import parse_json

MAX_ENV_BYTES = 1024 * 1024
SUMMARY_NAMED = 3  # problem keys named in the summary before "+N more"

EnvValues = dict[str, str | None]

# (word in the key, accepted prefixes, what the prefix means); the first match wins.
_PREFIX_RULES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("ANTHROPIC", ("sk-ant-",), "an Anthropic key (sk-ant-)"),
    ("OPENAI", ("sk-",), "an OpenAI key (sk-)"),
    ("RESEND", ("re_",), "a Resend key (re_)"),
    ("POSTHOG_PERSONAL", ("phx_",), "a PostHog personal key (phx_)"),
    ("POSTHOG", ("phc_",), "a PostHog project key (phc_)"),
    ("ANON_KEY", ("eyJ", "sb_publishable_"), "a Supabase anon key (JWT or sb_publishable_)"),
    ("PUBLISHABLE", ("eyJ", "sb_publishable_"), "a Supabase publishable key"),
    ("SERVICE_ROLE", ("eyJ", "sb_secret_"), "a Supabase service key (JWT or sb_secret_)"),
)
_EXPECTED_JWT_ROLE = {"ANON_KEY": "anon", "PUBLISHABLE": "anon", "SERVICE_ROLE": "service_role"}
_KNOWN_JWT_ROLES = {"anon", "service_role", "authenticated"}


# --- pure checks on one value -------------------------------------------------------------

def _jwt_role(token: str) -> str | None:
    """The `role` claim of a JWT's payload, when it can be read (no signature check)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = parse_json(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):  # UnreadableBody is a ValueError: nesting included
        return None
    role = payload.get("role") if isinstance(payload, dict) else None
    return role if isinstance(role, str) else None


def _url_problem(key: str, value: str) -> str | None:
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host, parts = None, None
    if "REDIS" in key:
        schemes, wanted = ("redis", "rediss"), "a redis:// or rediss:// URL"
    elif "OLLAMA" in key:
        schemes, wanted = ("http", "https"), "an http:// or https:// URL"
    else:
        schemes, wanted = ("https",), "an https:// URL"
    if parts is None or parts.scheme.lower() not in schemes or not host:
        return f"expected {wanted}"
    return None


def _prefix_problem(key: str, value: str) -> str | None:
    for word, prefixes, meaning in _PREFIX_RULES:
        if word not in key:
            continue
        if word == "OPENAI" and value.startswith("sk-ant-"):
            return "holds an Anthropic key (sk-ant-), expected an OpenAI key"
        if word in ("ANON_KEY", "PUBLISHABLE") and value.startswith("sb_secret_"):
            return "holds a secret key (sb_secret_) in a public variable"
        if not value.startswith(prefixes):
            return f"expected {meaning}"
        expected_role = _EXPECTED_JWT_ROLE.get(word)
        if expected_role and value.startswith("eyJ"):
            if value.count(".") != 2:
                return "expected a JWT (three dot-separated parts)"
            role = _jwt_role(value)
            if role in _KNOWN_JWT_ROLES and role != expected_role:
                return f"holds a {role} JWT, expected {expected_role}"
        return None
    return None


def malformed_reason(key: str, value: str) -> str | None:
    """Why `value` cannot be right for `key`, in words that never quote it; None when fine."""
    if value != value.strip():
        return "has leading or trailing whitespace"
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        return "contains whitespace or control characters"
    if key.endswith(("_URL", "_HOST")):
        return _url_problem(key, value)
    return _prefix_problem(key, value)


def _endpoint(value: str) -> tuple[str, int | None, str] | None:
    """Host, port and path of a URL: two URLs with different passwords can be one server."""
    try:
        parts = urlsplit(value)
        return ((parts.hostname or "").lower(), parts.port, parts.path.rstrip("/") or "/")
    except ValueError:
        return None


# --- comparing two files ------------------------------------------------------------------

@dataclass(slots=True)
class KeyVerdict:
    key: str
    candidate: list[str] = field(default_factory=list)  # problems in the candidate
    reference: list[str] = field(default_factory=list)  # problems in the reference only
    shorts: dict[str, str] = field(default_factory=dict)  # side -> first problem, in brief

    @property
    def status(self) -> Status:
        if self.candidate:
            return Status.UNAVAILABLE
        return Status.DEGRADED if self.reference else Status.HEALTHY

    def note(self, side: str, text: str, short: str) -> None:
        (self.candidate if side == "candidate" else self.reference).append(text)
        self.shorts.setdefault(side, short)


def _present(values: EnvValues, key: str) -> str | None:
    value = values.get(key)
    return value if isinstance(value, str) and value.strip() else None


def compare_key(key: str, reference: EnvValues, candidate: EnvValues, *, must_differ: bool,
                labels: dict[str, str]) -> KeyVerdict:
    """Judge one key in both files. Messages name values only by fingerprint."""
    verdict = KeyVerdict(key)
    for side, values in (("candidate", candidate), ("reference", reference)):
        if key not in values:
            verdict.note(side, f"missing in {labels[side]}", "missing")
        elif _present(values, key) is None:
            verdict.note(side, f"empty in {labels[side]}", "empty")
        else:
            value = values[key] or ""
            reason = malformed_reason(key, value)
            if reason:
                verdict.note(side, f"malformed in {labels[side]}: {reason} "
                             f"({fingerprint(value)})", "malformed")
    ref_value, cand_value = _present(reference, key), _present(candidate, key)
    if must_differ and ref_value is not None and cand_value is not None:
        if ref_value == cand_value:
            verdict.note("candidate", f"same value in both ({fingerprint(cand_value)})",
                         f"same as {labels['reference']}")
        elif key.endswith("_URL") and _endpoint(ref_value) == _endpoint(cand_value) \
                and _endpoint(cand_value) is not None:
            verdict.note("candidate", "same host, port and path in both "
                         f"({fingerprint(cand_value)})", f"same host as {labels['reference']}")
    return verdict


def _row(verdict: KeyVerdict, reference: EnvValues, candidate: EnvValues,
         labels: dict[str, str]) -> Row:
    problems = verdict.candidate + verdict.reference
    if problems:
        message = "; ".join(problems)
    else:
        ref_fp = fingerprint(reference[verdict.key] or "")
        cand_fp = fingerprint(candidate[verdict.key] or "")
        message = (f"ok ({labels['reference']} {ref_fp}, {labels['candidate']} {cand_fp})"
                   if ref_fp != cand_fp else f"ok, same in both ({cand_fp})")
    return Row(key=verdict.key, label=verdict.key, status=verdict.status, message=message)


def _fingerprints(key: str, reference: EnvValues, candidate: EnvValues) -> dict[str, str | None]:
    return {side: fingerprint(v) if (v := _present(values, key)) else None
            for side, values in (("reference", reference), ("candidate", candidate))}


def _named(verdicts: list[KeyVerdict], side: str) -> str:
    names = ", ".join(f"{v.key} {v.shorts[side]}" for v in verdicts[:SUMMARY_NAMED])
    more = len(verdicts) - SUMMARY_NAMED
    return names + (f" +{more} more" if more > 0 else "")


def file_labels(reference: Path, candidate: Path) -> dict[str, str]:
    """Short names for the two files that tell them apart."""
    if reference.name != candidate.name:
        return {"reference": reference.name, "candidate": candidate.name}
    ref = f"{reference.parent.name}/{reference.name}"
    cand = f"{candidate.parent.name}/{candidate.name}"
    if ref != cand:
        return {"reference": ref, "candidate": cand}
    return {"reference": "reference", "candidate": "candidate"}


def read_env_file(path: Path, role: str) -> EnvValues:
    """A .env file's keys and values (blocking: call in a thread). Errors name the path only."""
    if not path.exists():
        raise ProbeMisconfigured(f"{role} .env file not found: {path}")
    if not path.is_file():
        raise ProbeMisconfigured(f"{role} .env path is not a file: {path}")
    try:
        if path.stat().st_size > MAX_ENV_BYTES:
            raise ProbeMisconfigured(
                f"{role} .env file is larger than {size(MAX_ENV_BYTES)}: {path}")
        raw = path.read_bytes()
    except OSError as exc:
        raise ProbeMisconfigured(f"cannot read {role} .env file {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ProbeMisconfigured(f"{role} .env file is not UTF-8 text: {path}") from None
    # interpolate=False: compare what the exports say, never expand ${VAR} from our own env.
    return dotenv_values(stream=io.StringIO(text), interpolate=False)


class SecretsParityProbe:
    """Compares a candidate .env export (e.g. production) with a reference (e.g. staging)."""

    name = "secrets"

    def __init__(self, reference: Path, candidate: Path, settings: SecretsProbeConfig) -> None:
        self.reference = Path(reference)
        self.candidate = Path(candidate)
        self.keys = list(dict.fromkeys(settings.keys))
        self.must_differ = frozenset(settings.must_differ)
        self.interval = settings.interval
        self.timeout = settings.timeout
        self.labels = file_labels(self.reference, self.candidate)
        self.target = f"{self.labels['candidate']} against {self.labels['reference']}"

    async def check(self, deadline: float | None = None) -> Reading:
        reference, candidate = await asyncio.gather(
            asyncio.to_thread(read_env_file, self.reference, "reference"),
            asyncio.to_thread(read_env_file, self.candidate, "candidate"),
        )
        labels = self.labels
        verdicts = [compare_key(key, reference, candidate, must_differ=key in self.must_differ,
                                labels=labels) for key in self.keys]
        in_candidate = [v for v in verdicts if v.candidate]
        in_reference_only = [v for v in verdicts if v.reference and not v.candidate]
        parts = []
        if in_candidate:
            parts.append(f"{labels['candidate']}: {_named(in_candidate, 'candidate')}")
        if in_reference_only:
            parts.append(f"{labels['reference']}: {_named(in_reference_only, 'reference')}")
        summary = " · ".join(parts) or (
            f"{len(self.keys)} keys consistent in {labels['reference']} and "
            f"{labels['candidate']}")
        problem_keys = len(in_candidate) + len(in_reference_only)
        return Reading(
            probe=self.name,
            target=self.target,
            status=(Status.UNAVAILABLE if in_candidate
                    else Status.DEGRADED if in_reference_only else Status.HEALTHY),
            summary=summary,
            metrics={"keys": len(self.keys), "problems": problem_keys,
                     "candidate_problems": len(in_candidate),
                     "reference_problems": len(in_reference_only)},
            details={"reference": str(self.reference), "candidate": str(self.candidate),
                     "fingerprints": {key: _fingerprints(key, reference, candidate)
                                      for key in self.keys}},
            rows=tuple(_row(v, reference, candidate, labels) for v in verdicts),
        )

    async def aclose(self) -> None:
        """Nothing is held between checks."""
