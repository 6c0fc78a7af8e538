"""A rate sweep hands over what it has measured after every rate, so a run killed mid-sweep (a stage's timeout on the
GPU node) still leaves its finished rows on disk."""

import pytest
from stub_http import JsonStub, serving

from benchmarks import scenarios
from benchmarks.servers import Server


@pytest.fixture()
def server():
    with serving(JsonStub) as url:
        yield Server("fast", url)


def test_each_rate_is_handed_over_as_it_is_measured(server):
    seen = []
    result = scenarios.rate_sweep(server, [{}], [10.0, 20.0], 0.5, on_step=seen.append)
    assert [[row["rate"] for row in sweep["rows"]] for sweep in seen] == [[10.0], [10.0, 20.0]]
    assert seen[-1] == result
    assert seen[0]["max_rate_at_slo"] == 10.0 and result["max_rate_at_slo"] == 20.0
