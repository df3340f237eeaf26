"""benchmarks/tenants.py at a tiny size: its accounting holds, and its tenants are forgotten.

The benchmark runs in this process (``workers=0``: the task bodies run here,
not in worker processes), against a DigitaleFactuur sandbox process and the
test PostgreSQL; without PostgreSQL this module skips in one line (under
``CI=true`` it fails). Its speed is what the benchmark prints, not asserted here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from crmconnect.sync import PostgresStateStore
from tests.conftest import require_postgres

DSN = require_postgres()
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """benchmarks/tenants.py as a module (it imports its neighbour sandbox_process)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location("bench_tenants", BENCHMARKS / "tenants.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


def test_one_cycle_finds_exactly_the_changed_records_and_every_tenant_runs_once(
    bench: ModuleType,
) -> None:
    options = bench.Options(
        tenants=5, relations=20, workers=0, cycles=(5,), slopes=(), dsn=DSN, quiet=True
    )

    results = bench.run(options)

    first = results.first
    assert sorted(f.tenant for f in first) == [f"{results.prefix}-{n:05d}" for n in range(5)]
    for figures in first:  # both sides filled alike: linked by number, nothing written
        assert figures.result["counts"]["unchanged"] >= 20
        assert figures.remote_writes == figures.host_writes == 0
    [cycle] = results.cycles
    assert (cycle.size, cycle.percent) == (5, 1.0)
    assert sorted(t.tenant for t in cycle.tasks) == sorted(cycle.expected)  # each once
    for task in cycle.tasks:
        in_crm, in_df = cycle.expected[task.tenant]
        assert (in_crm, in_df) == (1, 1)  # 1 % of 20, at least one on each side
        assert task.remote_writes == in_crm  # the CRM's change written to DigitaleFactuur
        assert task.host_writes == in_df  # DigitaleFactuur's change written into the CRM
        assert task.result["counts"]["updated"] == 2
        assert task.result["counts"]["failed"] == 0
        assert task.http["klanten"] >= 1 and task.http_io > 0
        assert task.statements > 0 and task.transactions > 0 and task.connects == 1
        assert task.part("listing") > 0 and task.part("changed") > 0
        assert task.rss_mb > 0
    for name in cycle.expected:  # forgotten afterwards
        with PostgresStateStore(DSN, tenant=name) as store:
            assert store.runs() == []


def test_an_edit_on_each_side_lands_on_different_relations(bench: ModuleType) -> None:
    for index in range(50):
        here, there = bench.changed_positions(1000, 1.0, index, 3)
        assert len(here) == len(there) == 5
        assert not set(here) & set(there)
        assert all(0 <= n < 1000 for n in here + there)
    assert bench.changed_positions(1000, 0.0, 0, 1) == ([], [])
