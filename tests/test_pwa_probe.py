"""The PWA probe against a loopback stand-in of the app's manifest, worker and offline route."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import given
from hypothesis import strategies as st

from ppcockpit.config_model import PwaProbeConfig
from ppcockpit.model import Reading, Status, TargetUnavailable
from ppcockpit.probe import DeployAware
from probes.pwa import PwaProbe, manifest_missing, parse_manifest, skip_waiting_handler

MANIFEST = {
    "name": "Pocket Philosopher", "short_name": "Philosopher",
    "start_url": "/today?source=pwa", "display": "standalone",
    "icons": [{"src": "/icons/192.png", "sizes": "192x192", "type": "image/png"},
              {"src": "/icons/512.png", "sizes": "512x512", "type": "image/png"}],
}
WORKBOX_V1 = (
    'importScripts("/workbox-v7.js");self.__WB_MANIFEST=[{url:"/_next/app-1.js"}];'
    'self.addEventListener("message",e=>{e.data&&"SKIP_WAITING"===e.data.type&&'
    "self.skipWaiting()});workbox.core.clientsClaim();"
)
WORKBOX_V2 = WORKBOX_V1.replace("app-1", "app-2")
NO_SKIP_WAITING = 'self.addEventListener("fetch",e=>{});'


class FakeApp:
    def __init__(self) -> None:
        self.manifest: object = MANIFEST
        self.worker: str | None = WORKBOX_V1
        self.offline_status = 200
        self.worker_cache_control: list[str | None] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/manifest.webmanifest", self.get_manifest)
        app.router.add_get("/service-worker.js", self.get_worker)
        app.router.add_get("/offline", self.get_offline)
        return app

    async def get_manifest(self, request: web.Request) -> web.Response:
        body = self.manifest if isinstance(self.manifest, str) else json.dumps(self.manifest)
        return web.Response(text=body, content_type="application/manifest+json")

    async def get_worker(self, request: web.Request) -> web.Response:
        self.worker_cache_control.append(request.headers.get("Cache-Control"))
        if self.worker is None:
            return web.Response(status=404, text="not found")
        return web.Response(text=self.worker, content_type="application/javascript")

    async def get_offline(self, request: web.Request) -> web.Response:
        return web.Response(status=self.offline_status, text="<html>offline</html>",
                            content_type="text/html", headers={"X-Request-ID": "req-off"})


@pytest.fixture
async def site() -> AsyncIterator[tuple[FakeApp, PwaProbe]]:
    fake = FakeApp()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    probe = PwaProbe(str(server.make_url("")), PwaProbeConfig())
    yield fake, probe
    await probe.aclose()
    await server.close()


def rows(reading: Reading) -> dict[str, tuple[Status, str]]:
    return {row.key: (row.status, row.message) for row in reading.rows}


async def test_good_pwa_is_healthy(site) -> None:
    fake, probe = site
    reading = await probe.check()
    sha = hashlib.sha256(WORKBOX_V1.encode()).hexdigest()
    assert reading.probe == "pwa"
    assert reading.status is Status.HEALTHY
    assert reading.summary == (f"installable · service worker sha256:{sha[:8]} unchanged · "
                               "SKIP_WAITING handled (message listener) · offline answers 200")
    assert list(rows(reading)) == ["manifest", "service_worker", "skip_waiting", "offline"]
    assert all(status is Status.HEALTHY for status, _ in rows(reading).values())
    assert reading.details["service_worker_sha256"] == sha
    assert reading.details["changed"] is False
    assert reading.details["manifest_missing"] == []
    assert reading.details["sha_at_deploy"] is None
    assert reading.details["changed_since_deploy"] is None
    assert reading.metrics["service_worker_bytes"] == len(WORKBOX_V1)
    assert fake.worker_cache_control == ["no-cache"]


async def test_manifest_missing_fields_is_unavailable(site) -> None:
    fake, probe = site
    fake.manifest = {"short_name": "PP", "display": "browser",
                     "icons": [{"src": "/i.png", "sizes": "192x192"}]}
    reading = await probe.check()
    assert reading.status is Status.UNAVAILABLE
    message = ("manifest not installable: missing start_url, "
               "display standalone|fullscreen|minimal-ui, icon 512x512")
    assert rows(reading)["manifest"] == (Status.UNAVAILABLE, message)
    assert reading.summary == message
    assert reading.metrics["manifest_missing"] == 3


async def test_manifest_that_is_not_json(site) -> None:
    fake, probe = site
    fake.manifest = "<html>404</html>"
    reading = await probe.check()
    assert rows(reading)["manifest"] == (Status.UNAVAILABLE, "manifest is not valid JSON")


async def test_worker_without_skip_waiting_is_degraded(site) -> None:
    fake, probe = site
    fake.worker = NO_SKIP_WAITING
    reading = await probe.check()
    assert reading.status is Status.DEGRADED
    assert reading.summary == "service worker has no SKIP_WAITING handler"
    assert reading.details["skip_waiting_message"] is False


async def test_worker_changed_across_checks_and_since_deploy(site) -> None:
    fake, probe = site
    first = await probe.check()
    marked = datetime(2025, 11, 24, 16, 0, tzinfo=UTC)
    probe.mark_deploy(marked)  # the operator starts the deploy: v1 is what was live
    again = await probe.check()
    assert again.details["deploy_marked_at"] == marked.isoformat()
    assert isinstance(probe, DeployAware)
    assert again.details["sha_at_deploy"] == first.details["service_worker_sha256"]
    assert again.details["changed_since_deploy"] is False
    fake.worker = WORKBOX_V2
    changed = await probe.check()
    sha2 = hashlib.sha256(WORKBOX_V2.encode()).hexdigest()
    assert changed.details["changed"] is True
    assert changed.details["changed_since_deploy"] is True
    assert rows(changed)["service_worker"][1] == (
        f"service worker sha256:{sha2[:8]} changed since deploy")
    steady = await probe.check()
    assert steady.details["changed"] is False  # no change since the previous check
    assert steady.details["changed_since_deploy"] is True


async def test_mark_deploy_before_any_check_takes_the_next_sha(site) -> None:
    fake, probe = site
    probe.mark_deploy()
    first = await probe.check()
    assert first.details["sha_at_deploy"] == first.details["service_worker_sha256"]
    fake.worker = WORKBOX_V2
    second = await probe.check()
    assert second.details["changed_since_deploy"] is True


async def test_worker_missing_is_unavailable(site) -> None:
    fake, probe = site
    fake.worker = None
    reading = await probe.check()
    assert reading.status is Status.UNAVAILABLE
    assert reading.summary == "service worker answered 404"
    assert rows(reading)["skip_waiting"][0] is Status.UNKNOWN


async def test_offline_404_is_unavailable(site) -> None:
    fake, probe = site
    fake.offline_status = 404
    reading = await probe.check()
    assert reading.status is Status.UNAVAILABLE
    assert rows(reading)["offline"] == (Status.UNAVAILABLE, "offline route answered 404")
    assert reading.summary == "offline route answered 404"
    assert reading.request_id == "req-off"
    assert reading.details["offline_status"] == 404


async def test_site_unreachable() -> None:
    probe = PwaProbe("http://127.0.0.1:9", PwaProbeConfig())
    with pytest.raises(TargetUnavailable) as caught:
        await probe.check()
    assert caught.value.reason == "http://127.0.0.1:9 unreachable: connection refused"
    await probe.aclose()


# --- pure judgements ----------------------------------------------------------------------

@pytest.mark.parametrize("script", [
    WORKBOX_V1,
    "self.addEventListener('message', (event) => { if (event.data.type === 'SKIP_WAITING') {} })",
    "addEventListener(`message`,e=>{`SKIP_WAITING`==e.data?.type})",
    "self.skipWaiting();",
    "e.skipWaiting ( )",
    'self["skipWaiting"]()',
])
def test_skip_waiting_handlers_in_any_style(script: str) -> None:
    assert any(skip_waiting_handler(script))


@pytest.mark.parametrize("script", [NO_SKIP_WAITING, "const SKIP_WAITING_X = 1;",
                                    "self.skipWaitingFor = 1"])
def test_no_skip_waiting_handler(script: str) -> None:
    assert not any(skip_waiting_handler(script))


def test_svg_icon_with_any_size_is_enough() -> None:
    manifest = dict(MANIFEST, icons=[{"src": "/icon.svg", "sizes": "any"}])
    assert manifest_missing(manifest) == []


icon = st.fixed_dictionaries({}, optional={
    "src": st.text(max_size=10), "sizes": st.sampled_from(["192x192", "512x512", "any", "48x48"]),
    "type": st.sampled_from(["image/png", "image/svg+xml"])})
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                           lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                           max_leaves=10)
manifests = st.fixed_dictionaries({}, optional={
    "name": st.text(max_size=10), "short_name": st.text(max_size=10),
    "start_url": st.text(max_size=10),
    "display": st.sampled_from(["standalone", "fullscreen", "minimal-ui", "browser", "x"]),
    "icons": st.lists(icon, max_size=3) | json_values,
})


@given(manifest=manifests | json_values)
def test_manifest_judgement_never_crashes(manifest: object) -> None:
    body = json.dumps(manifest).encode()
    missing = manifest_missing(parse_manifest(body))
    assert all(isinstance(item, str) for item in missing)
    if isinstance(manifest, dict) and not missing:
        assert manifest.get("start_url", "").strip()
        assert manifest.get("display") in ("standalone", "fullscreen", "minimal-ui")


@given(body=st.binary(max_size=60))
def test_manifest_bytes_parse_or_raise_value_error(body: bytes) -> None:
    try:
        parsed = parse_manifest(body)
    except ValueError:
        return
    assert isinstance(manifest_missing(parsed), list)


@given(prefix=st.binary(max_size=60), suffix=st.binary(max_size=60),
       quote=st.sampled_from([b'"', b"'", b"`"]))
def test_a_handler_is_found_inside_any_minified_noise(prefix: bytes, suffix: bytes,
                                                      quote: bytes) -> None:
    listens, _ = skip_waiting_handler(prefix + b"==" + quote + b"SKIP_WAITING" + quote + suffix)
    _, calls = skip_waiting_handler(prefix + b";self.skipWaiting()" + suffix)
    assert listens and calls


@given(noise=st.binary(max_size=200))
def test_any_bytes_give_an_answer(noise: bytes) -> None:
    assert skip_waiting_handler(noise) in {(a, b) for a in (True, False) for b in (True, False)}


# --- the target's failures are the target's: bad bodies, redirects, TLS, bombs -------------

async def test_a_manifest_nested_100k_deep_is_the_targets_failure(site) -> None:
    from ppcockpit.model import Failure
    from ppcockpit.runner import ProbeRunner

    fake, probe = site
    fake.manifest = "[" * 100_000 + "]" * 100_000
    reading = await ProbeRunner([probe]).run_once(probe)
    assert reading.status is Status.UNAVAILABLE and reading.failure is not Failure.PROBE
    assert rows(reading)["manifest"] == (
        Status.UNAVAILABLE, "manifest is not valid JSON: JSON nested too deeply")
    assert "probe failed" not in reading.summary


async def test_a_redirect_off_the_origin_is_reported_not_followed() -> None:
    elsewhere = FakeApp()
    other = TestServer(elsewhere.app(), host="127.0.0.1")
    await other.start_server()
    other_url = str(other.make_url("")).rstrip("/")

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(f"{other_url}{request.path}")

    app = web.Application()
    app.router.add_get("/{tail:.*}", moved)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    probe = PwaProbe(base, PwaProbeConfig())
    try:
        reading = await probe.check()
    finally:
        await probe.aclose()
        await server.close()
        await other.close()
    assert reading.status is Status.UNAVAILABLE
    assert rows(reading)["manifest"] == (
        Status.UNAVAILABLE, f"manifest redirected to {other_url}/manifest.webmanifest: another "
        f"origin than {base}, not followed")
    assert elsewhere.worker_cache_control == []  # that host was never asked


async def test_a_redirect_within_the_origin_is_followed(site) -> None:
    fake, probe = site
    app = fake.app()

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/manifest.webmanifest")

    app.router.add_get("/old-manifest", moved)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    probe = PwaProbe(str(server.make_url("")), PwaProbeConfig(manifest_path="/old-manifest"))
    try:
        reading = await probe.check()
    finally:
        await probe.aclose()
        await server.close()
    assert rows(reading)["manifest"] == (Status.HEALTHY, "manifest installable")


async def test_a_self_signed_certificate_says_so() -> None:
    import ssl

    import trustme

    from tests.support.http_stub import serve_app

    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(server_context)
    async with serve_app(FakeApp().app(), ssl_context=server_context) as url:
        probe = PwaProbe(url, PwaProbeConfig())
        with pytest.raises(TargetUnavailable) as caught:
            await probe.check()
        await probe.aclose()
    assert caught.value.reason.startswith(
        f"{url} unreachable: TLS error: certificate verify failed (")


async def test_a_gzip_bomb_of_a_worker_is_cut_off_at_the_cap(site) -> None:
    import gzip
    import tracemalloc

    bomb = gzip.compress(b";" * (64 * 1024 * 1024))  # 64 MB of JavaScript in ~64 KB

    async def worker(request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip",
                                                "Content-Type": "application/javascript"})

    class BombApp(FakeApp):
        async def get_worker(self, request: web.Request) -> web.Response:
            return await worker(request)

    server = TestServer(BombApp().app(), host="127.0.0.1")
    await server.start_server()
    probe = PwaProbe(str(server.make_url("")), PwaProbeConfig())
    tracemalloc.start()
    try:
        reading = await probe.check()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await probe.aclose()
        await server.close()
    assert rows(reading)["service_worker"] == (Status.UNAVAILABLE,
                                               "service worker is larger than 8 MiB")
    assert peak < 24 * 1024 * 1024  # the cap (8 MiB) and change, never the 64 MB


def test_credentials_in_the_base_url_are_never_shown() -> None:
    probe = PwaProbe("https://ops:planted-pwa-pass@app.example", PwaProbeConfig())
    assert probe.target == "https://ops:***@app.example"
