"""decision paths: decision sent -> the first line of the step after the wait, by the other ways to decide (1 worker).

  form     the approval form as a browser without JavaScript sends it: POST /runs/<id>/approvals/0
           with the session's CSRF token, answered 303 (the page it redirects to is not loaded)
  quorum   a 2-vote quorum ask: the first vote (counted) over POST /api/notify, then the deciding
           vote is timed, as bench.notify_resume times a plain decision

Same baseline as bench.notify_resume (a plain RQ job blocked on a Redis list); its figure is in
that benchmark. A production web process (sign-in, API tokens), so every vote has its principal.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import time
import urllib.parse
from typing import Any

from bench.notify_resume import resumed_at, resumed_key_for
from bench.stack import Stack, percentiles, report, stack, wait_for
from hitl_web.engine import RunStatus
from hitl_web.stack import TEST_SECRET
from hitl_web.web.auth import Approvers

PASSWORD = "correct horse battery staple"
TOKENS = {"ann": "ann-token-0123456789abcdef", "ben": "ben-token-0123456789abcdef"}


def waiting(st: Stack, workflow: str, n: int) -> list[str]:
    run_ids = [st.client.trigger(workflow) for _ in range(n)]
    wait_for(lambda: all(st.client.get_run(r).status is RunStatus.WAITING for r in run_ids), 120, "waits", 0.1)
    return run_ids


def signed_in(port: int) -> tuple[http.client.HTTPConnection, dict[str, str], str]:
    """A connection signed in as ann: its cookie headers and CSRF token."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/login")
    page = conn.getresponse()
    cookie = page.getheader("Set-Cookie", "").split(";", 1)[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode()).group(1)  # type: ignore[union-attr]
    form = urllib.parse.urlencode({"name": "ann", "password": PASSWORD, "csrf_token": token, "next": "/"})
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": cookie,
        "Origin": f"http://127.0.0.1:{port}",
    }
    conn.request("POST", "/login", form, headers)
    answer = conn.getresponse()
    answer.read()
    headers["Cookie"] = answer.getheader("Set-Cookie", "").split(";", 1)[0]
    conn.request("GET", "/", headers={"Cookie": headers["Cookie"]})
    home = conn.getresponse().read().decode()
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', home).group(1)  # type: ignore[union-attr]
    return conn, headers, token


def measure(n: int) -> dict[str, Any]:
    env = {"HITL_ENV": "production", "SECRET_KEY": TEST_SECRET, "HITL_COOKIE_SECURE": "false",
           "HITL_API_TOKENS": ",".join(f"{k}:{v}" for k, v in TOKENS.items())}  # fmt: skip
    with stack(workers=1) as st:
        Approvers(st.redis, st.settings.key_prefix).add("ann", PASSWORD)
        web = st.web(env)
        key = resumed_key_for(st.settings.key_prefix)
        form_runs, quorum_runs = waiting(st, "bench-wait", n), waiting(st, "bench-quorum", n)

        conn, headers, token = signed_in(web.port)
        form = []
        for run_id in form_runs:
            body = urllib.parse.urlencode({"decision": "approve", "csrf_token": token})
            sent = time.time()
            conn.request("POST", f"/runs/{run_id}/approvals/0", body, headers)
            answer = conn.getresponse()
            answer.read()
            if answer.status != 303:
                raise SystemExit(f"the form answered {answer.status} for run {run_id}")
            form.append((resumed_at(st, key, run_id) - sent) * 1000)

        api = http.client.HTTPConnection("127.0.0.1", web.port)
        quorum = []
        for run_id in quorum_runs:
            for name in ("ann", "ben"):
                body = json.dumps({"eventId": f"bench-{run_id}", "eventData": {"approved": True}})
                sent = time.time()
                api.request("POST", "/api/notify", body, {"Content-Type": "application/json",
                                                          "Authorization": f"Bearer {TOKENS[name]}"})  # fmt: skip
                answer = api.getresponse()
                answer.read()
                if answer.status != 200:
                    raise SystemExit(f"the vote of {name} answered {answer.status} for run {run_id}")
            quorum.append((resumed_at(st, key, run_id) - sent) * 1000)
    return {"form": percentiles(form), "quorum_vote": percentiles(quorum)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=300)
    args = parser.parse_args()
    figures = measure(args.n)
    report(
        "decision paths",
        n=args.n,
        unit="ms",
        target="form and quorum vote -> resume p50 <= 3 ms, p99 <= 10 ms (as notify -> resume)",
        form_p50=figures["form"]["p50"],
        quorum_vote_p50=figures["quorum_vote"]["p50"],
        **figures,
        settings={"workers": 1, "web": "production (signed-in form, API tokens)"},
    )


if __name__ == "__main__":
    main()
