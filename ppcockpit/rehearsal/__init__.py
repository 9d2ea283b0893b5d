"""`ppcockpit rehearse`: a faithful local stand-in of everything the cockpit watches."""

from ppcockpit.rehearsal.stack import RehearsalError, StackHandle, start_stack

__all__ = ["RehearsalError", "StackHandle", "start_stack"]
