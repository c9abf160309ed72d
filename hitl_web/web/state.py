"""The app's handles on the engine and the realtime channels."""

from __future__ import annotations

from flask import current_app

from ..engine import Client
from ..live import Realtime
from .auth import Approvers
from .signin_limits import SignInLimits


def client() -> Client:
    """The engine client of this app."""
    return current_app.extensions["hitl"]  # type: ignore[no-any-return]


def realtime() -> Realtime:
    """The realtime channels of this app."""
    return current_app.extensions["hitl_realtime"]  # type: ignore[no-any-return]


def signin_limits() -> SignInLimits:
    """The sign-in throttle every web process shares."""
    return current_app.extensions["hitl_signin_limits"]  # type: ignore[no-any-return]


def approvers() -> Approvers:
    """The approvers who may sign in."""
    return current_app.extensions["hitl_approvers"]  # type: ignore[no-any-return]
