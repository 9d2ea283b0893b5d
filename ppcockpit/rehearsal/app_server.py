"""The app's HTTP surface: /api/health, the PWA files, /offline; X-Request-ID everywhere."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from ppcockpit.rehearsal import scenarios as sc
from ppcockpit.rehearsal.health_payload import BAD_GATEWAY_HTML, DB_ERROR, health_response
from ppcockpit.rehearsal.http_common import json_response
from ppcockpit.rehearsal.pwa_assets import (
    HOME_HTML,
    ICON_SIZES,
    NOT_FOUND_HTML,
    OFFLINE_HTML,
    icon_png,
    manifest_bytes,
    service_worker,
)
from ppcockpit.rehearsal.world import World

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID = web.RequestKey("request_id", str)


def build_app(world: World) -> web.Application:
    @web.middleware
    async def gateway(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = str(uuid.uuid4())
        request[REQUEST_ID] = request_id
        if sc.BAD_GATEWAY in world.faults:
            response: web.StreamResponse = web.Response(
                text=BAD_GATEWAY_HTML, status=502, content_type="text/html")
            world.log.text(f"[gateway] upstream prematurely closed connection while reading "
                           f"response header from upstream, request: \"{request.method} "
                           f"{request.path_qs} HTTP/1.1\", request_id: {request_id}")
        else:
            try:
                response = await handler(request)
            except web.HTTPNotFound:
                response = web.Response(text=NOT_FOUND_HTML, status=404,
                                        content_type="text/html")
            except web.HTTPException as exc:
                response = web.Response(text=exc.text or exc.reason, status=exc.status,
                                        content_type="text/plain")
            # Which build answered: what a rollback changes, visible on every app response.
            current = world.deployments.current
            response.headers["X-App-Version"] = current.version
            response.headers["X-Deployment-Id"] = current.uid
        response.headers["X-Request-ID"] = request_id
        response.headers.setdefault("X-Powered-By", "Next.js")
        return response

    async def health(request: web.Request) -> web.Response:
        now = world.clock.now()
        status, body = health_response(world, now)
        common = {"requestId": request[REQUEST_ID], "route": "/api/health",
                  "method": "GET"}
        if status == 200:
            world.log.json("debug", "Health check completed", now, **common,
                           metadata={"status": body["data"]["status"]})
        elif status == 503:
            world.log.json("error", "Health check failed", now, **common,
                           error={"name": "Error", "message": DB_ERROR})
        else:
            world.log.json("error", "Service role client unavailable", now, **common,
                           error={"name": "Error", "message": body["details"]["message"]})
        return json_response(body, status, headers={"Cache-Control": "no-store"})

    async def manifest(_: web.Request) -> web.Response:
        return web.Response(body=manifest_bytes(), content_type="application/manifest+json")

    async def worker(_: web.Request) -> web.Response:
        current = world.deployments.current
        body = service_worker(current.version, world.deployments.service_worker_revision())
        return web.Response(body=body, content_type="application/javascript",
                            headers={"Cache-Control": "public, max-age=0, must-revalidate",
                                     "Service-Worker-Allowed": "/"})

    async def offline(_: web.Request) -> web.Response:
        return web.Response(text=OFFLINE_HTML, content_type="text/html")

    async def home(_: web.Request) -> web.Response:
        return web.Response(text=HOME_HTML, content_type="text/html")

    def icon(size: int) -> Handler:
        async def handler(_: web.Request) -> web.Response:
            return web.Response(body=icon_png(size), content_type="image/png")
        return handler

    app = web.Application(middlewares=[gateway])
    app.router.add_get("/api/health", health)
    app.router.add_get("/manifest.webmanifest", manifest)
    app.router.add_get("/service-worker.js", worker)
    app.router.add_get("/offline", offline)
    app.router.add_get("/", home)
    app.router.add_get("/today", home)
    for size in ICON_SIZES:
        app.router.add_get(f"/icons/icon-{size}.png", icon(size))
    return app
