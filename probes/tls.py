"""Client TLS contexts for the probes, built off the event loop and never waited on forever.

Building a context reads CA files (~50 ms of CPU for certifi's bundle), and reading a file can
block for good: SSL_CERT_FILE naming a FIFO blocks in open() until someone writes to it. So:

- the CA locations are checked first, without opening them (`os.stat`): a FIFO, a device or
  a missing file is a clear ProbeMisconfigured, never an open() that may not return;
- each context is built once, in a daemon thread of its own that holds no lock, so nothing
  else can end up waiting on that thread (and a hung build cannot keep the process alive);
- every wait for a context has a timeout: the loop awaits it, a thread waits with a bound.

`ssl.create_default_context()` reads SSL_CERT_FILE/SSL_CERT_DIR too (OpenSSL's default
paths), and aiohttp builds one when it is imported: `environment_problem()` is checked before
any TLS library is imported, in a probe's prepare() and in its check().
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import ssl
import stat
import threading
from collections.abc import Callable

from ppcockpit.model import ProbeMisconfigured

BUILD_TIMEOUT = 10.0  # seconds any caller waits for a context before giving up

# One build per (kind, CA file, SSL_CERT_FILE, SSL_CERT_DIR): what the context was made from.
_futures: dict[tuple[str | None, ...], concurrent.futures.Future[ssl.SSLContext]] = {}
_futures_guard = threading.Lock()  # held only to read or add a dict entry, never while building


def _path_problem(variable: str, path: str, *, directory: bool) -> str | None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return f"{variable} {path} does not exist"
    except OSError as exc:
        return f"{variable} {path} cannot be read: {exc.strerror or type(exc).__name__}"
    if directory:
        return None if stat.S_ISDIR(mode) else f"{variable} {path} is not a directory"
    return None if stat.S_ISREG(mode) else f"{variable} {path} is not a regular file"


def file_problem(what: str, path: str) -> str | None:
    """Why `path` cannot serve as a CA file (`what` names it in the message); None when fine."""
    return _path_problem(what, path, directory=False)


def environment_problem() -> str | None:
    """Why SSL_CERT_FILE / SSL_CERT_DIR cannot be used, without opening either; None when
    they are unset or fine. Checked before any TLS library is imported or any context built."""
    cert_file = os.environ.get("SSL_CERT_FILE")
    if cert_file:
        problem = _path_problem("SSL_CERT_FILE", cert_file, directory=False)
        if problem:
            return problem
    cert_dir = os.environ.get("SSL_CERT_DIR")
    if cert_dir:
        # OpenSSL reads a list of directories here; each one must be a directory.
        for part in cert_dir.split(os.pathsep):
            if part and (problem := _path_problem("SSL_CERT_DIR", part, directory=True)):
                return problem
    return None


def ensure_environment() -> None:
    """ProbeMisconfigured when SSL_CERT_FILE / SSL_CERT_DIR cannot be used."""
    problem = environment_problem()
    if problem:
        raise ProbeMisconfigured(problem)


def _default_context() -> ssl.SSLContext:
    """httpx's defaults: SSL_CERT_FILE, else SSL_CERT_DIR, else certifi's bundle."""
    cert_file, cert_dir = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if cert_file:
        return ssl.create_default_context(cafile=cert_file)
    if cert_dir:
        return ssl.create_default_context(capath=cert_dir)
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _with_ca_file(ca_file: str) -> ssl.SSLContext:
    """The system's trust store plus one CA file (what redis-py's ssl_ca_certs does)."""
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=ca_file)
    return context


def _check_before_building(kind: str, ca_file: str | None) -> None:
    ensure_environment()
    if ca_file is not None and (problem := file_problem(f"the {kind} TLS CA file", ca_file)):
        raise ProbeMisconfigured(problem)


def _build(kind: str, ca_file: str | None) -> ssl.SSLContext:
    _check_before_building(kind, ca_file)
    try:
        return _with_ca_file(ca_file) if ca_file is not None else _default_context()
    except (OSError, ssl.SSLError, ValueError) as exc:
        where = ca_file or os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR")
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
        raise ProbeMisconfigured(
            f"cannot load TLS certificates{f' from {where}' if where else ''}: {reason}",
        ) from None


def _future(kind: str, ca_file: str | None) -> concurrent.futures.Future[ssl.SSLContext]:
    """The one build of this context: started on first call, in a daemon thread."""
    key = (kind, ca_file, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    with _futures_guard:
        future = _futures.get(key)
        if future is not None and not _failed(future):
            return future
        future = _futures[key] = concurrent.futures.Future()
        future.set_running_or_notify_cancel()  # a waiter that gives up cannot cancel it
    threading.Thread(target=_run, args=(future, lambda: _build(kind, ca_file)),
                     name=f"ppcockpit-tls-{kind}", daemon=True).start()
    return future


def _failed(future: concurrent.futures.Future[ssl.SSLContext]) -> bool:
    # A failed build is tried again on the next call: the operator may have fixed the file.
    return future.done() and future.exception() is not None


def _run(future: concurrent.futures.Future[ssl.SSLContext],
         build: Callable[[], ssl.SSLContext]) -> None:
    try:
        future.set_result(build())
    except BaseException as exc:  # handed to whoever waits, in their thread
        future.set_exception(exc)


def _timed_out(kind: str) -> ProbeMisconfigured:
    return ProbeMisconfigured(
        f"building the {kind} TLS context took more than {BUILD_TIMEOUT:g}s "
        "(is a CA file or SSL_CERT_FILE on a slow or blocking file system?)")


def context_blocking(kind: str = "default", ca_file: str | None = None,
                     timeout: float = BUILD_TIMEOUT) -> ssl.SSLContext:
    """The context, for a worker thread (never the event loop): waits at most `timeout`."""
    _check_before_building(kind, ca_file)
    try:
        return _future(kind, ca_file).result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        raise _timed_out(kind) from None


async def context(kind: str = "default", ca_file: str | None = None) -> ssl.SSLContext:
    """The context, for the event loop: built in a thread, awaited at most BUILD_TIMEOUT."""
    _check_before_building(kind, ca_file)
    future = _future(kind, ca_file)
    if future.done():
        return future.result()
    try:
        async with asyncio.timeout(BUILD_TIMEOUT):
            return await asyncio.wrap_future(future)
    except TimeoutError:
        raise _timed_out(kind) from None
