"""Time to media after a guest's network returns, over many runs (for benchmarks/RESULTS.md, not CI).

    python -m tests.browser.measure_recovery --outage 8 --runs 10 [--checkout DIR] [--kind link|address]

`--checkout` runs another checkout's product (e.g. a `git worktree` of an older commit) with this rig, so a
before/after comparison uses the same network, browsers and measurement. Prints one JSON line per run and
a summary (p50 and max of the slower direction; a run without media in `--give-up` seconds counts as such).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Browser

from tests.netns import BrowserNetwork

from .reconnect_rig import both_ways, browsers, product_on, start_call


async def one_run(host_browser: Browser, guest_browser: Browser, base_url: str, network: BrowserNetwork,
                  outage: float, kind: str, give_up: float) -> dict[str, Any]:
    network.link_up()
    console: list[str] = []
    call = await start_call(host_browser, guest_browser, base_url, console)
    try:
        if kind == "address":
            network.move_to_new_address()
        else:
            network.link_down()
            await asyncio.sleep(outage)
            network.link_up()
        back = time.monotonic()
        try:
            host_sees, guest_sees = await both_ways(call, back, give_up)
            return {"recovered": True, "host_sees_guest_s": round(host_sees, 2),
                    "guest_sees_host_s": round(guest_sees, 2)}
        except AssertionError:
            return {"recovered": False, "give_up_s": give_up}
    finally:
        for page in (call.host, call.guest):
            await page.context.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=8.0)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--kind", choices=("link", "address"), default="link")
    parser.add_argument("--give-up", type=float, default=30.0)
    parser.add_argument("--checkout", type=Path)
    parser.add_argument("--index", type=int, default=41, help="which 10.213.N.0/24 test network")
    args = parser.parse_args()
    results = []
    with BrowserNetwork(args.index) as network, product_on(network, "measure-recovery.log",
                                                           checkout=args.checkout) as product:
        async with browsers(network, product.base_url) as (host_browser, guest_browser):
            for run in range(args.runs):
                result = await one_run(host_browser, guest_browser, product.base_url, network, args.outage,
                                       args.kind, args.give_up)
                result["run"] = run
                print(json.dumps(result), flush=True)
                results.append(result)
    slower = [max(r["host_sees_guest_s"], r["guest_sees_host_s"]) for r in results if r["recovered"]]
    print(json.dumps({"summary": True, "kind": args.kind, "outage_s": args.outage, "runs": len(results),
                      "recovered": len(slower), "p50_s": statistics.median(slower) if slower else None,
                      "max_s": max(slower) if slower else None}))


if __name__ == "__main__":
    asyncio.run(main())
