"""The guide's example workflows; importing this package registers them."""

from __future__ import annotations

from . import basic, human_in_loop, refund

__all__ = ["basic", "human_in_loop", "refund"]
