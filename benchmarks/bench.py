"""Scale benchmark: API cost, cold start, refresh CPU, scrape latency and RSS.

    python benchmarks/bench.py                 # N = 1,000, 10,000 and 100,000
    python benchmarks/bench.py --sizes 1000    # a quick run
    python benchmarks/bench.py --write         # also rewrite benchmarks/RESULTS.md

Each size runs in a fresh process, so its peak RSS is the exporter's own. The
simulator runs in another child process, driven over a pipe, on a manual clock that
the exporter shares by value: both start at the same instant and move together.
The scrapers run in a third process. The seed document's method (one
`$filter=Id eq '...'&$top=1` request per job) is measured in the same run on the same
simulator, on a sample of jobs, and scaled to N.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from exporter.config.model import parse_config  # noqa: E402
from exporter.jobs.states import JobState  # noqa: E402
from exporter.runtime.exporter import Exporter  # noqa: E402
from exporter.runtime.malloc import limit_malloc_arenas  # noqa: E402
from exporter.simulator import ManualClock, SimJob, Simulator  # noqa: E402
from exporter.web.server import MetricsServer  # noqa: E402

T0 = 1767225600.0
INTERVAL = 30.0  # refresh interval of the steady state
STEADY_REFRESHES = 5
SEED_SAMPLE = 500  # jobs fetched the seed's way, to measure per-request cost
SCRAPERS = 20
SCRAPE_PERIOD = 1.0  # each scraper scrapes once a second (Prometheus at 1 s, 20 times)
SCRAPE_SECONDS = 15.0
SATURATION_SECONDS = 5.0


# --------------------------------------------------------------- simulator process

def simulator_process(conn: Any, n: int) -> None:
    """Serves the v2 API for n jobs and obeys commands from the benchmark."""
    clock = ManualClock(T0)
    sim = Simulator(clock=clock, seed=11, require_auth=False)
    sim.add_v2_account("bench")
    # History: every job created over the last 40 hours; the lookback is 48 h.
    ids = sim.generate_jobs("bench", n=n, start=T0 - 40 * 3600, end=T0 - 60)
    sim.start()
    conn.send({"endpoint": sim.v2_endpoint("bench"), "ids": ids[:SEED_SAMPLE]})
    churned = 0
    while True:
        command, *args = conn.recv()
        if command == "advance":
            clock.advance(args[0])
            conn.send(clock())
        elif command == "churn":
            # k new jobs that queue, process for a while and finish: each changes
            # state over the following intervals, so about k jobs change per interval.
            k, now = args[0], clock()
            for i in range(k):
                churned += 1
                start = now + (i % 30)
                sim.add_job("bench", SimJob(
                    f"nb:jid:UUID:churn-{churned:08d}", f"churn {churned}", start,
                    events=[(start + 5, JobState.Scheduled), (start + 20, JobState.Processing),
                            (start + 50, JobState.Finished)]))
            conn.send(k)
        elif command == "count":
            conn.send(sim.request_count(account="bench"))
        elif command == "stop":
            sim.stop()
            conn.send("stopped")
            return


# --------------------------------------------------------------- scraper process

def scraper_process(url: str, seconds: float, scrapers: int, period: float, out: Any) -> None:
    """`scrapers` clients, each scraping every `period` seconds (period 0: back to
    back, which measures capacity rather than latency)."""
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop(offset: float) -> None:
        next_at = time.monotonic() + offset
        with requests.Session() as session:
            while True:
                pause = next_at - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                if time.monotonic() >= deadline:
                    return
                started = time.perf_counter()
                response = session.get(url, headers={"Accept-Encoding": "gzip"},
                                       timeout=30, stream=True)
                response.raw.read()  # the bytes as sent; Prometheus decompresses later
                elapsed = time.perf_counter() - started
                if response.status_code == 200:
                    with lock:
                        latencies.append(elapsed)
                next_at += period

    threads = [threading.Thread(target=loop, args=(period * i / scrapers,))
               for i in range(scrapers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.send(latencies)


# --------------------------------------------------------------- one size

class ByteCounter:
    def __init__(self) -> None:
        self.bytes = 0

    def session(self) -> requests.Session:
        session = requests.Session()
        session.hooks["response"].append(self._count)
        return session

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.bytes += len(response.content)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_size(n: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    sim_process = ctx.Process(target=simulator_process, args=(child, n), daemon=True)
    sim_process.start()
    hello = parent.recv()
    endpoint = hello["endpoint"]

    def call(*command: Any) -> Any:
        parent.send(command)
        return parent.recv()

    clock = ManualClock(T0)
    counter = ByteCounter()
    config = parse_config(f"""
refresh: {{min_interval: 30s, full_resync: 1h, timeout: 120s}}
retention: {{finished: 3d, failed: 3d}}
lookback: 48h
max_jobs_per_account: 200000
accounts:
  - name: bench
    endpoint: {endpoint}
    auth: {{method: none}}
    max_requests_per_second: 1000
""", {})
    exporter = Exporter(config, clock=clock, session_factory=counter.session)
    refresher = exporter.refreshers[0]
    result: dict[str, Any] = {"n": n}

    # Cold start: the first full sync.
    requests_before = call("count")
    wall, cpu = time.perf_counter(), time.thread_time()
    refresher.ensure_fresh()
    result["cold_start_s"] = time.perf_counter() - wall
    result["cold_start_cpu_s"] = time.thread_time() - cpu
    result["cold_start_requests"] = call("count") - requests_before
    result["cold_start_bytes"] = counter.bytes
    result["jobs_exported"] = len(refresher.jobs())
    result["rss_after_cold_start_mb"] = _peak_rss_mb()
    assert refresher.status.up, refresher.status.last_error

    # Steady state: about 1 % of the jobs change per interval.
    per_refresh_requests, per_refresh_bytes, per_refresh_cpu = [], [], []
    for _ in range(STEADY_REFRESHES):
        call("churn", max(1, n // 100))
        clock.set(call("advance", INTERVAL))
        requests_before, bytes_before = call("count"), counter.bytes
        cpu = time.thread_time()
        refresher.ensure_fresh()
        per_refresh_cpu.append(time.thread_time() - cpu)
        per_refresh_requests.append(call("count") - requests_before)
        per_refresh_bytes.append(counter.bytes - bytes_before)
        assert refresher.status.up, refresher.status.last_error
    result["rss_after_steady_mb"] = _peak_rss_mb()
    result["steady_requests_per_refresh"] = statistics.mean(per_refresh_requests)
    result["steady_bytes_per_refresh"] = statistics.mean(per_refresh_bytes)
    result["steady_refresh_cpu_s"] = statistics.mean(per_refresh_cpu)
    result["refresh_cpu_per_job_us"] = (result["cold_start_cpu_s"] / max(1, n)) * 1e6

    # The seed document's method: one request per job, measured on a sample.
    sample = hello["ids"]
    session = counter.session()
    bytes_before = counter.bytes
    headers = {"x-ms-version": "2.19", "Accept": "application/json",
               "DataServiceVersion": "3.0", "MaxDataServiceVersion": "3.0"}
    started = time.perf_counter()
    for job_id in sample:
        quoted = job_id.replace("'", "''")
        session.get(f"{endpoint}Jobs()?$filter=Id eq '{quoted}'&$top=1", headers=headers,
                    timeout=30).raise_for_status()
    seed_seconds = time.perf_counter() - started
    result["seed_requests_per_refresh"] = n
    result["seed_bytes_per_refresh"] = (counter.bytes - bytes_before) / len(sample) * n
    result["seed_seconds_per_refresh"] = seed_seconds / len(sample) * n
    result["request_ratio"] = n / max(1e-9, result["steady_requests_per_refresh"])
    result["bytes_ratio"] = result["seed_bytes_per_refresh"] / max(
        1, result["steady_bytes_per_refresh"])

    # Scrape latency under concurrent scrapers (served from the snapshot), then
    # capacity with the same scrapers back to back.
    server = MetricsServer(exporter, "127.0.0.1", 0).start()
    ticker_stop = threading.Event()

    def tick() -> None:  # real time passes for the ages too
        while not ticker_stop.wait(0.25):
            clock.advance(0.25)

    def scrape_phase(period: float, seconds: float) -> list[float]:
        receive, send = ctx.Pipe()
        scrapers = ctx.Process(target=scraper_process, daemon=True,
                               args=(server.url + "/metrics", seconds, SCRAPERS, period, send))
        scrapers.start()
        latencies = receive.recv()
        scrapers.join(timeout=30)
        return latencies

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    paced = scrape_phase(SCRAPE_PERIOD, SCRAPE_SECONDS)
    saturated = scrape_phase(0.0, SATURATION_SECONDS)
    ticker_stop.set()
    server.stop()
    result["scrapes"] = len(paced)
    result["scrape_p50_ms"] = percentile(paced, 0.50) * 1000
    result["scrape_p99_ms"] = percentile(paced, 0.99) * 1000
    result["scrapes_per_second_max"] = len(saturated) / SATURATION_SECONDS
    result["exposition_gzip_bytes"] = sum(map(len, exporter.exposition("", True)[0]))

    result["peak_rss_mb"] = _peak_rss_mb()
    exporter.close()
    call("stop")
    sim_process.join(timeout=30)
    return result


# --------------------------------------------------------------- soak

def _rss_now_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_soak(n: int, scrapers: int, seconds: float) -> dict[str, Any]:
    """`scrapers` clients scraping every second for `seconds`, while the simulator's
    jobs churn (1 % per 30 s) and the exporter refreshes every 30 s."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    sim_process = ctx.Process(target=simulator_process, args=(child, n), daemon=True)
    sim_process.start()
    endpoint = parent.recv()["endpoint"]
    lock = threading.Lock()

    def call(*command: Any) -> Any:
        with lock:
            parent.send(command)
            return parent.recv()

    clock = ManualClock(T0)
    config = parse_config(f"""
refresh: {{min_interval: 30s, full_resync: 15m, timeout: 25s}}
retention: {{finished: 3d, failed: 3d}}
accounts: [{{name: bench, endpoint: '{endpoint}', auth: {{method: none}}}}]
""", {})
    exporter = Exporter(config, clock=clock)
    exporter.refresh_due()
    server = MetricsServer(exporter, "127.0.0.1", 0).start()
    stop = threading.Event()
    rss: list[tuple[float, float]] = []

    def drive() -> None:  # time passes for both clocks; jobs churn every 30 s
        started = time.monotonic()
        last_churn = started
        while not stop.wait(0.25):
            clock.advance(0.25)
            if time.monotonic() - last_churn >= 30:
                last_churn = time.monotonic()
                call("churn", max(1, n // 100))
                call("advance", 30)
                rss.append((round(last_churn - started), _rss_now_mb()))

    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    requests_before = call("count")
    receive, send = ctx.Pipe()
    load = ctx.Process(target=scraper_process, daemon=True,
                       args=(server.url + "/metrics", seconds, scrapers, 1.0, send))
    load.start()
    latencies = receive.recv()
    load.join(timeout=60)
    stop.set()
    api_requests = call("count") - requests_before
    server.stop()
    exporter.close()
    call("stop")
    return {
        "n": n, "scrapers": scrapers, "seconds": seconds, "scrapes": len(latencies),
        "p50_ms": percentile(latencies, 0.5) * 1000, "p90_ms": percentile(latencies, 0.9) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": max(latencies) * 1000, "api_requests": api_requests,
        "rss_mb_over_time": rss, "peak_rss_mb": _peak_rss_mb(),
    }


def soak_report(result: dict[str, Any]) -> str:
    rss = ", ".join(f"{t}s: {mb:.0f}" for t, mb in result["rss_mb_over_time"])
    return (f"Soak: {result['scrapers']} scrapers, each every second, for "
            f"{result['seconds']:.0f} s against N = {result['n']:,} jobs "
            f"(jobs churning 1 % per 30 s, refresh every 30 s):\n\n"
            f"- scrapes: {result['scrapes']:,}; latency p50 {result['p50_ms']:.1f} ms, "
            f"p90 {result['p90_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
            f"max {result['max_ms']:.1f} ms\n"
            f"- API requests during the soak: {result['api_requests']:,}\n"
            f"- RSS over time (MB): {rss}\n"
            f"- peak RSS: {result['peak_rss_mb']:.0f} MB\n")


# --------------------------------------------------------------- report

TARGETS = {
    10_000: [("steady_requests_per_refresh", "<=", 2), ("scrape_p99_ms", "<=", 50)],
    100_000: [("cold_start_s", "<=", 30), ("peak_rss_mb", "<=", 250)],
}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def report(results: list[dict[str, Any]]) -> str:
    rows = [
        ("jobs exported", "jobs_exported", "{:,.0f}"),
        ("cold start (first full sync), s", "cold_start_s", "{:.2f}"),
        ("cold start requests", "cold_start_requests", "{:,.0f}"),
        ("refresh CPU per job (cold), µs", "refresh_cpu_per_job_us", "{:.1f}"),
        ("steady refresh: requests (ours)", "steady_requests_per_refresh", "{:.1f}"),
        ("steady refresh: requests (seed method)", "seed_requests_per_refresh", "{:,.0f}"),
        ("request ratio (seed / ours)", "request_ratio", "{:,.0f}×"),
        ("steady refresh: bytes (ours)", "steady_bytes_per_refresh", "{:,.0f}"),
        ("steady refresh: bytes (seed method)", "seed_bytes_per_refresh", "{:,.0f}"),
        ("bytes ratio (seed / ours)", "bytes_ratio", "{:,.1f}×"),
        ("seed method: time per refresh, s", "seed_seconds_per_refresh", "{:.1f}"),
        ("steady refresh CPU, ms", "steady_refresh_cpu_s", "{:.1f}"),
        (f"scrape p50, ms ({SCRAPERS} scrapers, each every {SCRAPE_PERIOD:g} s)",
         "scrape_p50_ms", "{:.1f}"),
        (f"scrape p99, ms ({SCRAPERS} scrapers, each every {SCRAPE_PERIOD:g} s)",
         "scrape_p99_ms", "{:.1f}"),
        ("scrapes measured", "scrapes", "{:,.0f}"),
        (f"capacity, scrapes/s ({SCRAPERS} scrapers back to back)", "scrapes_per_second_max",
         "{:,.0f}"),
        ("exposition size (gzip), bytes", "exposition_gzip_bytes", "{:,.0f}"),
        ("peak RSS after cold start, MB", "rss_after_cold_start_mb", "{:.0f}"),
        ("peak RSS after steady refreshes, MB", "rss_after_steady_mb", "{:.0f}"),
        ("peak RSS (after scrapes too), MB", "peak_rss_mb", "{:.0f}"),
    ]
    head = "| measure | " + " | ".join(f"N = {r['n']:,}" for r in results) + " |"
    lines = [head, "|---|" + "---|" * len(results)]
    for label, key, fmt in rows:
        if key == "steady_refresh_cpu_s":
            cells = [fmt.format(r[key] * 1000) for r in results]
        else:
            cells = [fmt.format(r[key]) for r in results]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    verdicts = []
    for result in results:
        for key, _, limit in TARGETS.get(result["n"], []):
            value = result[key]
            verdicts.append(f"- N = {result['n']:,}: {key} = {value:.1f} (target ≤ {limit}): "
                            + ("met" if value <= limit else "MISSED"))
    return "\n".join(lines) + "\n\nTargets:\n" + "\n".join(verdicts) + "\n"


def main() -> int:
    limit_malloc_arenas()  # as the exporter's command line does
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--write", action="store_true", help="rewrite benchmarks/RESULTS.md")
    parser.add_argument("--soak", type=float, metavar="SECONDS",
                        help="instead: a soak run of 50 scrapers against 10,000 jobs")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_size(args.one)))
        return 0
    if args.soak:
        result = run_soak(10_000, 50, args.soak)
        print(soak_report(result))
        if args.write:
            path = ROOT / "benchmarks" / "RESULTS.md"
            path.write_text(path.read_text() + "\n" + soak_report(result)
                            + "\nReproduce: `python benchmarks/bench.py --soak 600`\n")
        return 0
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        print(f"N = {n:,} ...", file=sys.stderr, flush=True)
        done = subprocess.run([sys.executable, __file__, "--one", str(n)], check=True,
                              capture_output=True, text=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    text = report(results)
    print(f"Machine: {machine()}\n")
    print(text)
    if args.write:
        stamp = time.strftime("%Y-%m-%d")
        (ROOT / "benchmarks" / "RESULTS.md").write_text(
            f"# Benchmark results\n\nRun on {stamp} with `python benchmarks/bench.py --write`.\n\n"
            f"Machine: {machine()}\n\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
