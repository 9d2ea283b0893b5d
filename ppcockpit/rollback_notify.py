"""The rollback's message to the team: a Slack-compatible incoming webhook.

`message()` is pure: what happened, why (the evidence at arming), who, the deployment
rolled back to, links; every piece redacted, outside text escaped the way Slack asks
(`&`, `<`, `>`), so nothing in it can ping a channel or forge a link. `post()` sends
`{"text": ...}` as JSON: one bounded request, redirects never followed, and the URL
(its path is the secret) never in a message: errors name its host only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from ppcockpit.model import TargetUnavailable
from ppcockpit.text import one_line, strip_controls

MAX_TEXT = 3500  # Slack shows up to 4000 characters of a message's text
MAX_ANSWER_BYTES = 4096
_SLACK_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


@dataclass(frozen=True, slots=True)
class Notice:
    """What the message says, as plain data (escaped and redacted by `message()`)."""

    environment: str
    operator: str
    trigger: str  # the evidence at arming, one paragraph
    target: str  # the deployment rolled back to, in words ("" when none)
    current: str  # the deployment it replaces
    done: Sequence[str] = ()  # the actions before this one and how they went
    links: Sequence[tuple[str, str]] = ()  # (title, url)
    dry_run: bool = False


def escape(text: str) -> str:
    """Outside text as Slack shows it literally: no mention, no link, no markup."""
    return strip_controls(text).translate(_SLACK_ESCAPES)


def message(notice: Notice, redact: Callable[[str], str]) -> str:
    def safe(text: str, limit: int = 600) -> str:
        return escape(redact(one_line(text, limit)))

    lines = [f"*Rollback of {safe(notice.environment, 60)}* by {safe(notice.operator, 60)}"
             + (" (dry run: nothing was changed)" if notice.dry_run else "")]
    if notice.target:
        lines.append(f"*What:* production returns to {safe(notice.target)}"
                     + (f" (from {safe(notice.current)})" if notice.current else ""))
    else:
        lines.append("*What:* no deployment to return to was known")
    lines.append(f"*Why:* {safe(notice.trigger, 1500)}")
    lines.append(f"*Who:* {safe(notice.operator, 60)}")
    if notice.done:
        lines.append("*Done so far:* " + "; ".join(safe(d, 160) for d in notice.done))
    links = [(title, url) for title, url in notice.links if _linkable(redact(url))]
    if links:
        lines.append("*Links:* " + " · ".join(
            f"<{redact(url)}|{safe(title, 80).replace('|', '/')}>" for title, url in links))
    text = "\n".join(lines)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _linkable(url: str) -> bool:
    """A URL that may stand inside Slack's <url|title> as it is."""
    return url.startswith(("https://", "http://")) and not any(c in url for c in "<>| \n\r\t")


def webhook_host(url: str) -> str:
    """The host a webhook URL points at: all that is ever shown of it."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    return one_line(host, 80) or "(no host)"


def check_webhook_url(url: str) -> str | None:
    """Why `url` cannot be posted to (None when it can); never quotes the URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the webhook URL cannot be read"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "the webhook URL must be an https:// URL"
    return None


async def post(url: str, text: str, *,
               timeout: float) -> str:  # noqa: ASYNC109 (one request's own limit)
    """POST `{"text": text}` to the webhook; the answer in a few words. TargetUnavailable
    (naming the host only) when it is not a 2xx."""
    from probes.http_client import new_client, warm_up

    host = webhook_host(url)
    problem = check_webhook_url(url)
    if problem:
        raise TargetUnavailable(problem)
    await warm_up()  # httpx's imports and the TLS context, off the loop
    import httpx

    try:
        client = await new_client(timeout=timeout, follow_redirects=False)
        async with client, client.stream(
                "POST", url, json={"text": text},
                headers={"User-Agent": "ppcockpit-rollback"}) as answer:
            body = b""
            async for chunk in answer.aiter_bytes():
                body += chunk
                if len(body) >= MAX_ANSWER_BYTES:
                    break
    except httpx.TimeoutException:
        raise TargetUnavailable(f"webhook at {host}: no answer within {timeout:g}s") from None
    except httpx.HTTPError as exc:
        raise TargetUnavailable(f"webhook at {host}: cannot reach it "
                                f"({type(exc).__name__})") from None
    said = one_line(body[:200].decode("utf-8", "replace"), 80)
    if 300 <= answer.status_code < 400:
        raise TargetUnavailable(f"webhook at {host} redirected (HTTP {answer.status_code}); "
                                "not followed")
    if not 200 <= answer.status_code < 300:
        raise TargetUnavailable(f"webhook at {host} answered HTTP {answer.status_code}"
                                + (f": {said}" if said else ""))
    return f"HTTP {answer.status_code}" + (f" {said}" if said else "")
