"""scale curve: the same figures with 0, 1,000, 10,000 and 100,000 runs waiting (and as many finished runs kept).

    python -m bench.scale_curve            # also draws docs/scale-curve.png

At each size: notify -> resume p50/p99 (live runs on one worker, decided through the web process's
API), Redis bytes per waiting run, an idle worker's CPU (% of a core over 10 s), one sweep's time,
``GET /`` and ``GET /runs/<id>`` p50 (a waiting run's page), and ``GET /inbox`` p50 for an approver
who holds 10% of the asks. The runs kept are seeded through the engine's own scripts
(``index_scale.seed``: a run's hash, steps, indexes and waits as real ones leave them, without
their journal). The naive baseline (an RQ job blocked on a Redis list) is measured once.
"""

from __future__ import annotations

import argparse
import http.client
import http.cookiejar
import json
import re
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import psutil

from bench.index_scale import seed
from bench.notify_resume import measure_baseline, resumed_at, resumed_key_for
from bench.stack import Stack, percentiles, report, stack, wait_for
from hitl_web.engine import RunStatus
from hitl_web.stack import ROOT
from hitl_web.web.auth import Approvers

SIZES = (0, 1_000, 10_000, 100_000)
PICTURE = ROOT / "docs" / "scale-curve.png"
SHARE = 10  # every tenth seeded ask is alice's, the rest bob's
GROWING = ("notify_resume_ms", "get_index_ms_p50", "get_run_ms_p50", "get_inbox_ms_p50", "sweep_ms_p50")


def script_usec(st: Stack) -> tuple[int, int]:
    """Redis's count of script calls (EVALSHA) and the microseconds it spent in them, so far."""
    stats = st.redis.info("commandstats").get("cmdstat_evalsha", {})
    return int(stats.get("calls", 0)), int(stats.get("usec", 0))


def notify_resume(st: Stack, port: int, n: int) -> dict[str, float]:
    """notify -> resume of ``n`` live runs (``bench-wait``) decided one by one over HTTP.

    Also the microseconds Redis spent per script call meanwhile (``redis_usec_per_script``): the
    part of the decision path that is Redis's own.
    """
    run_ids = [st.client.trigger("bench-wait") for _ in range(n)]
    wait_for(lambda: all(st.client.get_run(r).status is RunStatus.WAITING for r in run_ids), 120, "waits", 0.1)
    calls, usec = script_usec(st)
    conn = http.client.HTTPConnection("127.0.0.1", port)
    key = resumed_key_for(st.settings.key_prefix)
    samples = []
    for run_id in run_ids:
        body = json.dumps({"eventId": f"bench-{run_id}", "eventData": {"approved": True}})
        sent = time.time()
        conn.request("POST", "/api/notify", body, {"Content-Type": "application/json"})
        conn.getresponse().read()
        samples.append((resumed_at(st, key, run_id) - sent) * 1000)
    wait_for(lambda: st.client.get_run(run_ids[-1]).status is RunStatus.COMPLETED, 30, "last run")
    calls_after, usec_after = script_usec(st)
    per_script = round((usec_after - usec) / max(1, calls_after - calls), 1)
    return {**percentiles(samples), "redis_usec_per_script": per_script}


def get_p50(opener: urllib.request.OpenerDirector, url: str, samples: int) -> float:
    """p50 of ``samples`` sequential GETs (after 3 to warm up) in milliseconds."""
    taken = []
    for i in range(samples + 3):
        started = time.perf_counter()
        with opener.open(url, timeout=120) as resp:
            resp.read()
            assert resp.status == 200, url
        if i >= 3:
            taken.append((time.perf_counter() - started) * 1000)
    return percentiles(taken)["p50"]


def signed_in(base: str, name: str) -> urllib.request.OpenerDirector:
    """An opener whose session is ``name``'s, signed in through the login form (CSRF token and all)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(base + "/login") as resp:
        match = re.search(r'name="csrf_token" value="([^"]+)"', resp.read().decode())
    assert match, "the login form carries a CSRF token"
    form = urllib.parse.urlencode({"csrf_token": match.group(1), "name": name, "password": "bench-password-1"})
    with opener.open(base + "/login", form.encode()) as resp:
        assert resp.status == 200 and "/login" not in resp.url, "signed in"
    return opener


def idle_cpu(pid: int, seconds: float = 10.0) -> float:
    """% of one core the process used over ``seconds`` (its threads and children too)."""
    proc = psutil.Process(pid)

    def used() -> float:
        times = [proc.cpu_times(), *(c.cpu_times() for c in proc.children(recursive=True))]
        return sum(t.user + t.system for t in times)

    before = used()
    time.sleep(seconds)
    return round((used() - before) / seconds * 100, 2)


def sweep_ms(st: Stack, samples: int = 50) -> float:
    """p50 of one sweep pass (the script every worker's sweeper runs) in milliseconds."""
    taken = []
    for _ in range(samples):
        started = time.perf_counter()
        st.client.store.sweep()
        taken.append((time.perf_counter() - started) * 1000)
    return percentiles(taken)["p50"]


def measure(sizes: tuple[int, ...], n: int, samples: int) -> dict[str, Any]:
    """Every figure at every size; each size adds to the runs kept by the last."""
    by_size: dict[str, Any] = {}
    with stack(workers=1) as st:
        web = st.web()
        Approvers(st.redis, st.settings.key_prefix).add("alice", "bench-password-1")
        alice, visitor = signed_in(web.url, "alice"), urllib.request.build_opener()
        worker_pid = st.workers.procs[0].pid
        viewed = st.client.trigger("bench-wait")  # the run whose page is read at every size (it stays waiting)
        wait_for(lambda: st.client.get_run(viewed).status is RunStatus.WAITING, 30, "the viewed run")
        stored = waiting = 0
        for size in sizes:
            used_before = int(st.redis.info("memory")["used_memory"])
            seed(st, stored, stored + size - waiting, size - waiting, lambda i: ["alice" if i % SHARE == 0 else "bob"])
            grown = int(st.redis.info("memory")["used_memory"]) - used_before
            per_run = round(grown / (size - waiting)) if size > waiting else None
            stored += size - waiting
            seed(st, stored, stored + size - waiting, 0)  # as many finished runs
            stored += size - waiting
            waiting = size
            by_size[str(size)] = {
                "notify_resume_ms": notify_resume(st, web.port, n),
                "redis_bytes_per_waiting_run": per_run,
                "idle_worker_cpu_percent": idle_cpu(worker_pid),
                "sweep_ms_p50": sweep_ms(st),
                "get_index_ms_p50": get_p50(visitor, web.url + "/", samples),
                "get_run_ms_p50": get_p50(visitor, f"{web.url}/runs/{viewed}", samples),
                "get_inbox_ms_p50": get_p50(alice, web.url + "/inbox", samples),
                "alice_asks": st.client.inbox.count("alice"),
            }
            print(json.dumps({size: by_size[str(size)]}), flush=True)
    return by_size


def draw(by_size: dict[str, Any], baseline_p50: float, path: Path) -> None:
    """Latency p50/p99 and bytes per waiting run against runs waiting (log scale), the baseline as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(int(s) for s in by_size)
    xs = [max(s, 100) for s in sizes]  # 0 on a log axis: drawn at 100, labelled 0
    p50 = [by_size[str(s)]["notify_resume_ms"]["p50"] for s in sizes]
    p99 = [by_size[str(s)]["notify_resume_ms"]["p99"] for s in sizes]
    fig, left = plt.subplots(figsize=(8, 4.5), dpi=110)
    left.plot(xs, p50, "o-", label="notify -> resume p50")
    left.plot(xs, p99, "s-", label="notify -> resume p99")
    for key, label in (("get_index_ms_p50", "GET / p50"), ("get_inbox_ms_p50", "GET /inbox p50 (10% of asks)")):
        left.plot(xs, [by_size[str(s)][key] for s in sizes], ".--", label=label)
    left.axhline(baseline_p50, color="grey", linestyle=":", label=f"naive baseline p50 ({baseline_p50} ms)")
    left.set_xscale("log")
    left.set_xticks(xs, [f"{s:,}" for s in sizes])
    left.set_xlabel("runs waiting (and as many finished runs kept)")
    left.set_ylabel("milliseconds")
    right = left.twinx()
    bytes_ = [by_size[str(s)]["redis_bytes_per_waiting_run"] for s in sizes]
    right.plot([x for x, b in zip(xs, bytes_, strict=True) if b], [b for b in bytes_ if b], "^-", color="purple",
               label="Redis bytes per waiting run")  # fmt: skip
    right.set_ylabel("bytes per waiting run")
    right.set_ylim(bottom=0)
    lines = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    left.legend(lines, [str(line.get_label()) for line in lines], fontsize=8, loc="upper left")
    left.set_title("hitl-web as the work grows (2 cores, loopback)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("-n", type=int, default=200, help="notifies at each size")
    parser.add_argument("--samples", type=int, default=30, help="GETs of each page at each size")
    parser.add_argument("--no-picture", action="store_true", help=f"do not redraw {PICTURE.relative_to(ROOT)}")
    args = parser.parse_args()
    sizes = tuple(sorted(int(s) for s in args.sizes.split(",")))
    by_size = measure(sizes, args.n, args.samples)
    baseline = percentiles(measure_baseline(min(args.n, 200)))
    if not args.no_picture:
        draw(by_size, baseline["p50"], PICTURE)
    low, high = by_size[str(sizes[0])], by_size[str(sizes[-1])]

    def growth(key: str) -> float | None:
        a, b = low[key], high[key]
        if isinstance(a, dict):
            a, b = a["p50"], b["p50"]
        return round((b / a - 1) * 100, 1) if a else None

    report(
        "scale curve",
        sizes=by_size,
        baseline=baseline,
        largest=sizes[-1],
        growth_percent={k: growth(k) for k in GROWING},
        target="every latency at 100,000 within 10% of its value at 0; an idle worker under 2% of a core",
        picture=str(PICTURE.relative_to(ROOT)),
    )


if __name__ == "__main__":
    main()
