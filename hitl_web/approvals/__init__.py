"""Approvals: the one path every decision on a wait takes (forms, the JSON API, the command line)."""

from __future__ import annotations

from .decisions import Decider, Decision, decide, decide_step, describe_decision

__all__ = ["Decider", "Decision", "decide", "decide_step", "describe_decision"]
