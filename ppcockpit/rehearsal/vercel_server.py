"""A Vercel-shaped deployments API that records every request, so a rollback can be proved."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from ppcockpit.rehearsal.clock import iso_ms
from ppcockpit.rehearsal.credentials import (
    VERCEL_PROJECT_ID,
    VERCEL_PROJECT_NAME,
    VERCEL_TOKEN,
)
from ppcockpit.rehearsal.deployments import Deployment
from ppcockpit.rehearsal.http_common import RequestLog, bearer, json_response
from ppcockpit.rehearsal.world import World

PROMOTE_DELAY = 0.5  # real seconds: promotion is asynchronous


def vercel_error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    return json_response({"error": {"code": code, "message": message, **extra}}, status)


def deployment_json(deployment: Deployment, current_uid: str) -> dict[str, Any]:
    created = int(deployment.created * 1000)
    return {
        "uid": deployment.uid, "name": VERCEL_PROJECT_NAME, "url": deployment.url,
        "created": created, "createdAt": created, "buildingAt": created - 61_000,
        "ready": created, "state": deployment.state, "readyState": deployment.state,
        "type": "LAMBDAS", "target": deployment.target, "projectId": VERCEL_PROJECT_ID,
        "meta": {"githubCommitSha": deployment.sha, "githubCommitRef": "main",
                 "githubCommitMessage": deployment.message, "githubOrg": "pocket-philosopher",
                 "githubRepo": "pocket-philosopher", "appVersion": deployment.version},
        "creator": {"uid": "usr_rehearsal", "username": "release-bot"},
        "inspectorUrl": f"https://vercel.com/rehearsal/{VERCEL_PROJECT_NAME}/{deployment.uid}",
        "isRollbackCandidate": deployment.state == "READY" and deployment.uid != current_uid,
    }


def build_app(world: World, requests: RequestLog,
              others: Sequence[World] = ()) -> web.Application:
    """The API over `world` (production) and `others` (further targets of the same project,
    e.g. staging: one World each, keyed by its deployments' target)."""
    by_target = {w.deployments.target: w for w in (*others, world)}

    def owner(deployment: Deployment) -> World:
        return by_target[deployment.target]

    def find(id_or_url: str) -> Deployment | None:
        return next((found for w in by_target.values()
                     if (found := w.deployments.get(id_or_url)) is not None), None)

    def as_json(deployment: Deployment) -> dict[str, Any]:
        return deployment_json(deployment, owner(deployment).deployments.current_uid)

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        if bearer(request) != VERCEL_TOKEN:
            response: web.StreamResponse = vercel_error(
                403, "forbidden", "Not authorized", invalidToken=True)
        else:
            try:
                response = await handler(request)
            except web.HTTPNotFound:
                response = vercel_error(404, "not_found", "The requested URL was not found")
        requests.add({"method": request.method, "path": request.path,
                      "query": dict(request.query), "status": response.status,
                      "at": iso_ms(time.time())})
        # The stand-in's clock is the simulated one its deployment times are written in.
        response.headers["Date"] = email.utils.formatdate(world.clock.now(), usegmt=True)
        return response

    def project_ok(id_or_name: str | None) -> bool:
        return id_or_name in (VERCEL_PROJECT_ID, VERCEL_PROJECT_NAME)

    async def list_deployments(request: web.Request) -> web.Response:
        query = request.query
        if "projectId" in query and not project_ok(query["projectId"]):
            return vercel_error(404, "not_found", "Project not found")
        try:
            limit = max(1, min(100, int(query.get("limit", "20"))))
        except ValueError:
            return vercel_error(400, "bad_request", "Invalid query: limit must be a number")
        states = {s.strip().upper() for s in query.get("state", "").split(",") if s.strip()}
        everything = sorted((d for w in by_target.values() for d in w.deployments.all()),
                            key=lambda d: d.created, reverse=True)
        found = [d for d in everything
                 if (not query.get("target") or d.target == query["target"])
                 and (not states or d.state in states)]
        page = found[:limit]
        return json_response({
            "pagination": {"count": len(page),
                           "next": int(page[-1].created * 1000) - 1 if len(found) > limit
                           else None, "prev": None},
            "deployments": [as_json(d) for d in page],
        })

    async def get_deployment(request: web.Request) -> web.Response:
        deployment = find(request.match_info["id"])
        if deployment is None:
            return vercel_error(404, "not_found", "Deployment not found")
        return json_response(as_json(deployment))

    async def get_project(request: web.Request) -> web.Response:
        if not project_ok(request.match_info["project"]):
            return vercel_error(404, "not_found", "Project not found")
        current = world.deployments.current
        return json_response({
            "id": VERCEL_PROJECT_ID, "name": VERCEL_PROJECT_NAME, "framework": "nextjs",
            "targets": {target: as_json(w.deployments.current)
                        for target, w in by_target.items()},
            "latestDeployments": [deployment_json(d, current.uid)
                                  for d in world.deployments.all()[:5]],
        })

    def target_of(request: web.Request) -> Deployment | web.Response:
        if not project_ok(request.match_info["project"]):
            return vercel_error(404, "not_found", "Project not found")
        deployment = find(request.match_info["deployment"])
        if deployment is None:
            return vercel_error(404, "not_found", "Deployment not found")
        if deployment.state != "READY" or deployment.target != "production":
            return vercel_error(400, "bad_request",
                                "Only READY production deployments can be promoted")
        if deployment.uid == world.deployments.current_uid:
            return vercel_error(409, "conflict",
                                "This deployment is already the current production deployment")
        return deployment

    async def rollback(request: web.Request) -> web.Response:
        target = target_of(request)
        if isinstance(target, web.Response):
            return target
        owner(target).switch_to(target, world.clock.now(), "rolled back")
        return web.Response(status=201)

    async def promote(request: web.Request) -> web.Response:
        target = target_of(request)
        if isinstance(target, web.Response):
            return target
        loop = asyncio.get_running_loop()
        loop.call_later(PROMOTE_DELAY,
                        lambda: owner(target).switch_to(target, world.clock.now(),
                                                        "promoted"))
        return web.Response(status=202)

    app = web.Application(middlewares=[record])
    app.router.add_get("/v6/deployments", list_deployments)
    app.router.add_get("/v13/deployments/{id}", get_deployment)
    app.router.add_get("/v9/projects/{project}", get_project)
    app.router.add_post("/v1/projects/{project}/rollback/{deployment}", rollback)
    app.router.add_post("/v10/projects/{project}/promote/{deployment}", promote)
    return app
