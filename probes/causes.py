"""Walking an exception's chain, and the causes every probe words the same way.

A cause is found by its type and errno through the chain (`__cause__`, `__context__`, the
members of an exception group), never by matching the text of a message.
"""

from __future__ import annotations

import errno
import ssl
from collections.abc import Iterator

from ppcockpit.text import one_line

_CHAIN_LIMIT = 20


def exception_chain(exc: BaseException, limit: int | None = None) -> Iterator[BaseException]:
    """`exc`, then its `__cause__` (else `__context__`), and so on, with the members of any
    exception group on the way; never loops, and stops after `limit` exceptions when given."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending and (limit is None or len(seen) < limit):
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        following = current.__cause__ or current.__context__
        if following is not None:
            pending.append(following)


def connection_refused(exc: BaseException) -> bool:
    """Somewhere in the chain the connection was refused (ECONNREFUSED)."""
    return any(isinstance(cause, ConnectionRefusedError)
               or getattr(cause, "errno", None) == errno.ECONNREFUSED
               for cause in exception_chain(exc, _CHAIN_LIMIT))


def tls_failure(exc: BaseException) -> str | None:
    """"TLS error: certificate verify failed (...)" or "TLS error: <reason>" when the chain
    holds a TLS failure; None when it does not. One wording for every probe."""
    for cause in exception_chain(exc, _CHAIN_LIMIT):
        if isinstance(cause, ssl.SSLCertVerificationError):
            detail = one_line(cause.verify_message or cause.reason or "", 80)
            return (f"TLS error: certificate verify failed ({detail})" if detail
                    else "TLS error: certificate verify failed")
        if isinstance(cause, ssl.SSLError):
            reason = one_line(cause.reason or cause, 80)
            return f"TLS error: {reason.lower().replace('_', ' ')}"
    return None
