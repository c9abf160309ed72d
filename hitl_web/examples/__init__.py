"""The guide's example workflows; importing this package registers them."""

from __future__ import annotations

from . import basic, human_in_loop

__all__ = ["basic", "human_in_loop"]
