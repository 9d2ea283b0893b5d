"""The app's PWA files: manifest, Workbox service worker (one revision per deploy), icons."""

from __future__ import annotations

import functools
import json
import struct
import zlib

MANIFEST = {
    "name": "Pocket Philosopher",
    "short_name": "Philosopher",
    "description": "An AI philosophy coach with citations.",
    "start_url": "/today?source=pwa",
    "scope": "/",
    "display": "standalone",
    "background_color": "#0f172a",
    "theme_color": "#0f172a",
    "icons": [
        {"src": "/icons/icon-192.png", "sizes": "192x192", "type": "image/png"},
        {"src": "/icons/icon-512.png", "sizes": "512x512", "type": "image/png",
         "purpose": "any maskable"},
    ],
}
ICON_SIZES = (192, 512)

OFFLINE_HTML = (
    "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>Offline · Pocket Philosopher</title></head><body><main>"
    "<h1>You are offline</h1><p>Your reflections are saved and will sync when you are back "
    "online.</p></main></body></html>"
)
HOME_HTML = (
    "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<link rel=\"manifest\" href=\"/manifest.webmanifest\">"
    "<title>Pocket Philosopher</title></head><body><main><h1>Pocket Philosopher</h1>"
    "<p>Rehearsal stand-in.</p></main></body></html>"
)
NOT_FOUND_HTML = (
    "<!DOCTYPE html><html><head><title>404: This page could not be found.</title></head>"
    "<body><h1>404</h1><h2>This page could not be found.</h2></body></html>"
)


def manifest_bytes() -> bytes:
    return json.dumps(MANIFEST, indent=2).encode()


def service_worker(version: str, revision: str) -> bytes:
    """A Workbox worker; its precache revisions change the bytes on every deploy."""
    precache = [
        {"url": "/offline", "revision": revision},
        {"url": "/today", "revision": revision},
        {"url": "/manifest.webmanifest", "revision": revision[:8]},
        {"url": "/icons/icon-192.png", "revision": "1"},
    ]
    return (
        f"/* Pocket Philosopher service worker · {version} */\n"
        'importScripts("https://storage.googleapis.com/workbox-cdn/releases/7.0.0/'
        'workbox-sw.js");\n'
        "workbox.core.clientsClaim();\n"
        'self.addEventListener("message", (event) => {\n'
        '  if (event.data && event.data.type === "SKIP_WAITING") {\n'
        "    self.skipWaiting();\n"
        "  }\n"
        "});\n"
        f"workbox.precaching.precacheAndRoute({json.dumps(precache)});\n"
        "workbox.routing.setCatchHandler(async ({ request }) =>\n"
        '  request.destination === "document"\n'
        '    ? workbox.precaching.matchPrecache("/offline")\n'
        "    : Response.error());\n"
    ).encode()


@functools.cache
def icon_png(size: int) -> bytes:
    """A plain square PNG of `size` pixels (slate, the app's theme colour)."""
    row = b"\x00" + bytes((15, 23, 42)) * size
    pixels = zlib.compress(row * size, 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))
