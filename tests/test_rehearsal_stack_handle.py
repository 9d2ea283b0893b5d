"""What the cockpit's UI asks a running rehearsal never waits on the stack's thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from ppcockpit.rehearsal import StackHandle
from ppcockpit.rehearsal import scenarios as sc
from ppcockpit.rehearsal.stack import start_stack


@pytest.fixture
def stack() -> Iterator[StackHandle]:
    handle = start_stack(sc.DB_DOWN)
    try:
        yield handle
    finally:
        handle.stop()


def stuck_stack_loop(stack: StackHandle) -> threading.Event:
    """Hold the stack's own loop busy (as a long simulation step would) until released."""
    release = threading.Event()
    entered = threading.Event()

    def hold() -> None:
        entered.set()
        release.wait(30)

    loop = stack._thread.loop  # the stack's loop: nothing public may block it on purpose
    assert loop is not None
    loop.call_soon_threadsafe(hold)
    assert entered.wait(10)
    return release


def test_active_faults_answers_while_the_stack_loop_is_busy(stack: StackHandle) -> None:
    release = stuck_stack_loop(stack)
    try:
        assert stack.active_faults().keys() == {sc.DB_DOWN}
        assert sc.CALM in dict(stack.faults())
        assert stack.hosting_requests() == []
    finally:
        release.set()


def test_active_faults_follows_every_change_at_once(stack: StackHandle) -> None:
    assert stack.inject(sc.BAD_GATEWAY).startswith("Injected bad-gateway")
    assert stack.active_faults().keys() == {sc.DB_DOWN, sc.BAD_GATEWAY}
    assert stack.inject(sc.CALM).startswith("Calm restored")
    assert stack.active_faults() == {}
    # A change made on the stack's side (a rollback through the Vercel stand-in) shows too.
    stack.inject(sc.FAILURE_SPIKE)
    assert sc.FAILURE_SPIKE in stack.active_faults()
    base, project = stack.endpoints["vercel"], stack.credentials["vercel_project_id"]
    auth = {"Authorization": f"Bearer {stack.credentials['vercel_token']}"}
    deployments = httpx.get(base + "/v6/deployments", headers=auth).json()["deployments"]
    rolled = httpx.post(f"{base}/v1/projects/{project}/rollback/{deployments[1]['uid']}",
                        headers=auth)
    assert rolled.status_code == 201
    assert sc.FAILURE_SPIKE not in stack.active_faults()


def test_the_last_faults_are_known_after_the_stack_stopped(stack: StackHandle) -> None:
    stack.stop()
    assert stack.active_faults().keys() == {sc.DB_DOWN}
