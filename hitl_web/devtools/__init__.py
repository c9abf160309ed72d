"""Tools for running hitl-web on a laptop: ``hitl-web dev`` (the local stack). No production process imports them."""

from __future__ import annotations
