"""The README's benchmark table is generated from docs/bench-results.json, never by hand."""

from __future__ import annotations

import json

import pytest

from tests.bench import readme


def test_the_readme_table_is_what_the_kept_results_render():
    results = json.loads(readme.KEPT.read_text())
    assert readme.block_in(readme.README.read_text()) == readme.render(results), (
        "README.md's benchmark table differs from docs/bench-results.json: "
        "run `make bench-readme` after `make bench`")


def test_render_states_machine_date_and_every_figure():
    results = {"started_at": "2026-12-03T15:00:00+00:00", "duration_seconds": 301.4,
               "machine": {"nproc": 2, "cpu_model": "Xeon", "python": "3.11.7",
                           "load_generator": "wrk 4.1.0", "ratecalc_commit": "abc1234"},
               "config": {"only": None},
               "figures": [
                   {"id": "1", "name": "throughput | ratio", "value": 0.8712, "target": ">= 0.85",
                    "result": "PASS", "notes": "a note"},
                   {"id": "7", "name": "memory", "value": 845.0, "target": "<= 1024",
                    "result": "FAIL", "notes": ""},
                   {"id": "1c", "name": "redis", "value": None, "target": "beside 1",
                    "result": "info", "notes": "not measured"}]}
    block = readme.render(results)
    assert block.startswith("Run of 2026-12-03: 2 cores (Xeon), Python 3.11.7, "
                            "load from wrk 4.1.0, commit abc1234, 301 s.")
    assert "| 1 | throughput \\| ratio | 0.871 | >= 0.85 | PASS |" in block
    assert "| 7 | memory | 845 | <= 1024 | FAIL |" in block
    assert "| 1c | redis | - | beside 1 | info |" in block
    assert "- **1.** a note" in block and "**7.**" not in block


def test_rewrite_replaces_only_the_marked_block():
    text = f"intro\n{readme.BEGIN}\nold\n{readme.END}\nafter\n"
    assert readme.rewrite(text, "new") == f"intro\n{readme.BEGIN}\nnew\n{readme.END}\nafter\n"
    with pytest.raises(ValueError, match="markers"):
        readme.rewrite("no markers", "new")
