"""A Slack-compatible incoming webhook that keeps what it is sent: the rollback's `notify`
posts here, and `GET` on the same URL lists the messages (`{"messages": [...]}`)."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from ppcockpit.rehearsal.clock import iso_ms
from ppcockpit.rehearsal.credentials import WEBHOOK_PATH
from ppcockpit.rehearsal.http_common import RequestLog, json_response

MAX_BODY = 64 * 1024
MAX_MESSAGES = 200


def _slack_error(status: int, code: str) -> web.Response:
    """Slack answers its incoming webhooks in plain text: `ok`, or the error's code."""
    return web.Response(status=status, text=code, content_type="text/plain")


def build_app(messages: RequestLog) -> web.Application:
    async def receive(request: web.Request) -> web.Response:
        if request.path != WEBHOOK_PATH:
            return _slack_error(404, "no_service")
        raw = await request.content.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            return _slack_error(413, "payload_too_large")
        try:
            body: Any = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError):
            return _slack_error(400, "invalid_payload")
        if not isinstance(body, dict):
            return _slack_error(400, "invalid_payload")
        text = body.get("text")
        if not isinstance(text, str) or not text:
            return _slack_error(400, "no_text")
        messages.add({"text": text, "received_at": iso_ms(time.time()),
                      "content_type": request.headers.get("Content-Type", "")})
        return web.Response(text="ok", content_type="text/plain")

    async def listed(request: web.Request) -> web.Response:
        if request.path != WEBHOOK_PATH:
            return _slack_error(404, "no_service")
        return json_response({"messages": messages.snapshot()})

    app = web.Application(client_max_size=MAX_BODY * 2)
    app.router.add_post("/{tail:.*}", receive)
    app.router.add_get("/{tail:.*}", listed)
    return app
