"""inbox scale: GET /inbox for an approver with 1,000 and 10,000 open asks (p50/p99), and the index read alone.

The asks are seeded through the engine's own scripts with no worker (``index_scale.seed``: every
run waits, its ask open to any approver, so all of them are in the approver's inbox). One web
process (local mode) serves the page; the page shows the 50 soonest, so its cost should not grow
with the asks held: the index read is a ZRANGE per entry, never a scan of the runs.
"""

from __future__ import annotations

import argparse
import time
import urllib.request
from typing import Any

from bench.index_scale import seed
from bench.stack import percentiles, report, stack

SIZES = (1_000, 10_000)


def get_ms(url: str) -> float:
    """One GET in milliseconds."""
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as resp:
        body = resp.read()
        assert resp.status == 200 and b'data-testid="inbox-item"' in body
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    by_size: dict[str, Any] = {}
    with stack(workers=0) as st:
        web = st.web()
        stored = 0
        for size in sorted(int(s) for s in args.sizes.split(",")):
            seed(st, stored, size, size - stored)
            stored = size
            assert st.client.inbox.count("someone") == size
            url = f"{web.url}/inbox"
            for _ in range(3):
                get_ms(url)
            page = [get_ms(url) for _ in range(args.samples)]
            reads = []
            for _ in range(args.samples):
                started = time.perf_counter()
                st.client.inbox.asks("someone", limit=50)
                reads.append((time.perf_counter() - started) * 1000)
            by_size[str(size)] = {"get_inbox_ms": percentiles(page), "index_read_ms": percentiles(reads)}
    largest = str(max(int(k) for k in by_size))
    report(
        "inbox scale",
        target="GET /inbox p50 < 100 ms for an approver with 10,000 open asks",
        samples=args.samples,
        largest=int(largest),
        get_inbox_p50_ms=by_size[largest]["get_inbox_ms"]["p50"],
        sizes=by_size,
    )


if __name__ == "__main__":
    main()
