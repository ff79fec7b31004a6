"""Figure 7: resident memory of one gunicorn worker holding ``BENCH_MEMORY_ENTRIES``
cached quotes (one carrier each, so one cache entry each).

RSS is read from ``/proc/<worker>/status`` after a warm-up (``BENCH_MEMORY_WARMUP``,
200 quotes) and again
after the distinct quotes; bytes per entry = the growth ÷ entries. The cache is
sized above the entry count so nothing is evicted.
"""

from __future__ import annotations

import time

from tests.bench import load
from tests.bench.procs import rss_bytes
from tests.bench.quotes import distinct, post
from tests.bench.report import Figure

MIB = 1024 * 1024
TARGET_BYTES = 1024  # RSS per cached carrier entry, stale copy included


def worker_rss(proc) -> tuple[int, int]:
    workers = proc.children()
    if len(workers) != 1:
        raise RuntimeError(f"expected one gunicorn worker, found {workers}")
    time.sleep(0.5)
    return workers[0], rss_bytes(workers[0])


def run(bench) -> list[Figure]:
    entries = bench.config.memory_entries
    bench.shipstation()
    ratecalc = bench.ratecalc("ratecalc-memory", CARRIERS="fedex",
                              CACHE_MAX_ENTRIES=entries + 1000,
                              SHIPSTATION_REQUESTS_PER_MINUTE=1_000_000)
    if bench.config.workers != 1:
        raise RuntimeError("figure 7 needs BENCH_WORKERS=1 (one worker holds the cache)")
    warm = [post(q) for q in distinct(bench.config.memory_warmup, postal_code="02108",
                                      start_grams=50_000)]
    load.sequence([ratecalc.url], warm, concurrency=8)
    pid, before = worker_rss(ratecalc)
    fill = [post(q) for q in distinct(entries, postal_code="98101")]
    answer = load.sequence([ratecalc.url], fill, concurrency=8, keep="x-cache")
    _, after = worker_rss(ratecalc)
    bench.procs.stop(ratecalc)
    misses = sum(1 for r in answer["results"] if r[1] == 200 and r[4] == "MISS")
    if misses != entries:
        raise RuntimeError(f"only {misses} of {entries} quotes were fresh 200 answers")
    per_entry = (after - before) / entries
    return [Figure(
        "7", "memory, bytes per cached quote", per_entry, f"<= {TARGET_BYTES:,}",
        per_entry <= TARGET_BYTES,
        f"worker {pid}: RSS {before / MIB:.1f} MiB after a warm-up of "
        f"{bench.config.memory_warmup:,} quotes -> {after / MIB:.1f} MiB "
        f"holding {entries:,} more cached quotes (+{(after - before) / MIB:.1f} MiB); "
        "1 carrier (fedex, several services) per entry",
        {"rss_before": before, "rss_after": after, "entries": entries,
         "bytes_per_entry": per_entry})]
