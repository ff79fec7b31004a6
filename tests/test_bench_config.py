"""`make bench`'s knobs: BENCH_QUICK's shorter defaults, and explicit settings winning."""

from __future__ import annotations

from tests.bench.config import Config


def test_quick_runs_figures_1_4_and_7_with_shorter_defaults(monkeypatch):
    monkeypatch.setenv("BENCH_QUICK", "1")
    config = Config()
    assert config.only == {1, 4, 7}
    assert (config.seconds, config.rounds, config.warmup_seconds) == (5, 1, 1)
    assert (config.memory_entries, config.memory_warmup) == (3000, 1000)


def test_an_explicit_setting_wins_over_quick(monkeypatch):
    monkeypatch.setenv("BENCH_QUICK", "1")
    monkeypatch.setenv("BENCH_ROUNDS", "3")
    monkeypatch.setenv("BENCH_MEMORY_ENTRIES", "10000")
    monkeypatch.setenv("BENCH_ONLY", "7")
    config = Config()
    assert (config.rounds, config.memory_entries, config.only) == (3, 10000, {7})


def test_a_full_run_keeps_the_issues_measures(monkeypatch):
    for name in ("BENCH_QUICK", "BENCH_ROUNDS", "BENCH_MEMORY_ENTRIES", "BENCH_MEMORY_WARMUP",
                 "BENCH_ONLY", "BENCH_SECONDS", "BENCH_WARMUP_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    config = Config()
    assert config.only is None
    assert (config.rounds, config.memory_entries, config.memory_warmup) == (3, 10_000, 200)
