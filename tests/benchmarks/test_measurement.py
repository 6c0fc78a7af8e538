"""The measurement helpers the serving findings rest on: py-spy stack folding, the stage histogram deltas read
from Prometheus text, and CPU counted over the sending window only."""

from __future__ import annotations

from benchmarks.cpu_by_process import usage
from benchmarks.pyspy import fold
from benchmarks.servers import parse_stage_counters, stage_summary


def test_fold_counts_self_and_inclusive_shares():
    raw = ("main (app.py:1);handle (app.py:9);parse (lib/json.py:3) 30\n"
           "main (app.py:1);handle (app.py:9);post (app.py:20) 60\n"
           "main (app.py:1);idle (app.py:2) 10\n")
    folded = fold(raw)
    assert folded["samples"] == 100
    assert dict(folded["self"]) == {"post (app.py)": 60.0, "parse (lib/json.py)": 30.0, "idle (app.py)": 10.0}
    inclusive = dict(folded["inclusive"])
    assert inclusive["main (app.py)"] == 100.0
    assert inclusive["handle (app.py)"] == 90.0


def test_stage_summary_is_the_difference_between_snapshots():
    before = {"post": {"count": 10, "sum": 100.0, "le=1": 0, "le=10": 10, "le=+Inf": 10}}
    after = {"post": {"count": 30, "sum": 500.0, "le=1": 0, "le=10": 12, "le=+Inf": 30},
             "wait": {"count": 4, "sum": 2.0, "le=1": 4, "le=10": 4, "le=+Inf": 4}}
    summary = stage_summary(before, after)
    assert summary["post"]["batches"] == 20
    assert summary["post"]["mean_ms"] == 20.0  # (500 - 100) / 20, not the cumulative 500 / 30
    assert summary["post"]["p50_le_ms"] == "+Inf"  # only 2 of the 20 new ones fell at or under 10 ms
    assert summary["wait"] == {"batches": 4, "mean_ms": 0.5, "p50_le_ms": "1", "p90_le_ms": "1", "p99_le_ms": "1",
                               "max_le_ms": "1"}
    assert summary["post"]["max_le_ms"] == "+Inf"


def test_stage_summary_shows_a_stall_too_rare_for_any_percentile():
    # 1,000 loop-lag samples, one of them 45 ms late (a replica's event loop held once): p99 stays in the 1 ms bucket,
    # the bucket of the slowest sample is 50 ms.
    after = {"loop_lag": {"count": 1000, "sum": 545.0, "le=1.0": 999, "le=20.0": 999, "le=50.0": 1000,
                          "le=+Inf": 1000}}
    row = stage_summary(None, after)["loop_lag"]
    assert row["p99_le_ms"] == "1.0" and row["max_le_ms"] == "50.0"


def test_stage_counters_sum_replicas_and_read_the_loop_lag_as_a_stage():
    text = "\n".join([
        '# HELP ray_packdesign_ingress_stage_ms Milliseconds of each micro-batch stage.',
        'ray_packdesign_ingress_stage_ms_bucket{Component="core_worker",le="5.0",stage="post"} 3.0',
        'ray_packdesign_ingress_stage_ms_bucket{Component="core_worker",le="5.0",stage="post"} 4.0',
        'ray_packdesign_ingress_stage_ms_count{Component="core_worker",stage="post"} 9.0',
        'ray_packdesign_ingress_stage_ms_sum{Component="core_worker",stage="post"} 40.5',
        'ray_packdesign_ingress_loop_lag_ms_bucket{Component="core_worker",le="1.0"} 18.0',
        'ray_packdesign_ingress_loop_lag_ms_bucket{Component="core_worker",le="+Inf"} 20.0',
        'ray_packdesign_ingress_loop_lag_ms_count{Component="core_worker"} 20.0',
        'ray_packdesign_ingress_loop_lag_ms_sum{Component="core_worker"} 31.0',
        'ray_packdesign_batch_size_count{Component="core_worker"} 7.0',
    ])
    counters = parse_stage_counters(text)
    assert counters["post"] == {"le=5.0": 7.0, "count": 9.0, "sum": 40.5}  # two replicas' rows summed
    assert counters["loop_lag"] == {"le=1.0": 18.0, "le=+Inf": 20.0, "count": 20.0, "sum": 31.0}
    assert set(counters) == {"post", "loop_lag"}
    summary = stage_summary(None, counters)
    assert summary["loop_lag"] == {"batches": 20, "mean_ms": 1.55, "p50_le_ms": "1.0", "p90_le_ms": "1.0",
                                   "p99_le_ms": "+Inf", "max_le_ms": "+Inf"}


def test_cpu_usage_counts_only_the_window():
    # /proc snapshots as CPUProbe takes them (pid -> (CPU seconds so far, role)), twice a second: the ingress
    # burns 1 core only from t = 1.0 to 2.0; the generator's preparation (t < 1) costs the loader 2 cores.
    samples = [
        (0.0, {1: (0.0, "ingress"), 2: (0.0, "load_generator")}),
        (0.5, {1: (0.0, "ingress"), 2: (1.0, "load_generator")}),
        (1.0, {1: (0.0, "ingress"), 2: (2.0, "load_generator")}),
        (1.5, {1: (0.5, "ingress"), 2: (2.1, "load_generator")}),
        (2.0, {1: (1.0, "ingress"), 2: (2.2, "load_generator")}),
        (2.5, {1: (1.0, "ingress"), 2: (2.2, "load_generator")}),
    ]
    scheduled = [1.0 + i / 100 for i in range(100)]  # 100 answers sent in [1, 2)

    def answered_in(t0, t1):
        return sum(1 for t in scheduled if t0 <= t < t1)

    windowed = usage(samples, answered=300, window=(1.0, 2.0), answered_in=answered_in)
    assert windowed["answered_in_window"] == 100
    assert windowed["cores"]["ingress"] == 1.0
    assert windowed["cpu_ms_per_request"]["ingress"] == 10.0  # 1 CPU second over 100 answers
    assert windowed["cores"]["load_generator"] == 0.2  # its preparation lies outside the window
    whole = usage(samples, answered=300)
    assert whole["cores"]["load_generator"] == 0.88  # 2.2 s over 2.5 s: what the window keeps out


def test_runner_arguments_naming_haproxy_do_not_make_it_the_proxy():
    from benchmarks.cpu_by_process import _role

    assert _role("python3 -m benchmarks.gpu_serve --out o --server serve --variant haproxy") == "load_generator"
    assert _role("python -m benchmarks.profile_serve --variant haproxy --rate 60") == "load_generator"
    assert _role("/tmp/site/bin/haproxy -f /tmp/haproxy-serve/haproxy.cfg -W") == "proxy"
    assert _role("ray::ServeReplica:packdesign:Ingress") == "ingress"
    assert _role("python -m benchmarks.baseline_server --workers 4") == "baseline_workers"


def test_controller_events_time_each_decision_and_start_from_the_load_start():
    import time

    from benchmarks.gpu_serve import controller_events

    lines = [  # as the H200 node's controller logged them (messages cut), one unrelated line
        "2026-12-03 10:23:01,482 Upscaling Deployment(name='Ingress', app='packdesign') from 2 to 6 replicas. "
        "Current ongoing requests: 119.96, current running replicas: 2.",
        "2026-12-03 10:23:01,595 Adding 4 replicas to Deployment(name='Ingress', app='packdesign').",
        "2026-12-03 10:23:07,922 Replica(id='u7c7xd1r', deployment='Ingress', app='packdesign') started successfully "
        "on node '0618' after 6.3s (PID: 21096). Replica constructor, reconfigure method, and initial health check "
        "took 2.0s.",
        "2026-12-03 10:23:09,000 Removing 1 replica from Deployment(name='Recommender', app='packdesign').",
    ]
    started_at = time.mktime(time.strptime("2026-12-03 10:22:43", "%Y-%m-%d %H:%M:%S")) + 0.472
    events = controller_events(lines, started_at)
    assert events == [
        {"t": 18.01, "event": "upscale", "deployment": "Ingress", "from": 2, "to": 6},
        {"t": 18.12, "event": "adding", "deployment": "Ingress", "replicas": 4},
        {"t": 24.45, "event": "started", "deployment": "Ingress", "start_s": 6.3, "constructor_s": 2.0},
    ]


def test_replica_processes_finds_a_new_replica_by_its_title():
    import subprocess
    import sys
    import time

    from benchmarks.replica_start import replica_processes

    before = set(replica_processes("Ingress"))
    started = time.time()
    # A replica's process title carries "ServeReplica:<app>:<deployment>"; here an argument carries it.
    child = subprocess.Popen([sys.executable, "-c", "import time; sum(range(10**7)); time.sleep(30)",
                              "ray::ServeReplica:packdesign:Ingress"])
    try:
        time.sleep(1.5)
        found = {pid: v for pid, v in replica_processes("Ingress").items() if pid not in before}
        assert list(found) == [child.pid]
        start, cpu = found[child.pid]
        assert abs(start - started) < 2.0 and 0.0 < cpu < 5.0
        assert child.pid not in replica_processes("BriefEncoder")
    finally:
        child.kill()


def test_gpu_run_overrides_set_app_args_on_the_shipped_gpu_config():
    """`gpu_serve --app-arg` A/Bs (runs 19-20: ingress_max_concurrent_batches 1 against 3) change only what they
    name."""
    import yaml

    from benchmarks.gpu_serve import GPU_CONFIG, overrides

    shipped = yaml.safe_load(GPU_CONFIG.read_text())
    config = yaml.safe_load(GPU_CONFIG.read_text())
    overrides(1, 12, "torch", "deployment", app_args={"ingress_max_concurrent_batches": 3})(config)
    args, before = config["applications"][0]["args"], shipped["applications"][0]["args"]
    assert before["ingress_max_concurrent_batches"] != 3 and args["ingress_max_concurrent_batches"] == 3
    assert {k: v for k, v in args.items() if k not in ("ingress_max_concurrent_batches", "backend")} == \
        {k: v for k, v in before.items() if k not in ("ingress_max_concurrent_batches", "backend")}


def test_gpu_run_access_log_override_changes_only_the_logging_switch():
    """`gpu_serve --access-log off` (the access-log A/B) flips Serve's access log and leaves the rest of the logging
    config and the app as shipped; without it the config's own setting stays."""
    import yaml

    from benchmarks.gpu_serve import GPU_CONFIG, overrides

    shipped = yaml.safe_load(GPU_CONFIG.read_text())
    for access_log, expected in (("off", False), ("on", True), (None, shipped["logging_config"]["enable_access_log"])):
        config = yaml.safe_load(GPU_CONFIG.read_text())
        overrides(1, 12, "torch", "deployment", access_log=access_log)(config)
        assert config["logging_config"]["enable_access_log"] is expected
        assert {k: v for k, v in config["logging_config"].items() if k != "enable_access_log"} == \
            {k: v for k, v in shipped["logging_config"].items() if k != "enable_access_log"}
        assert config["applications"][0]["args"] == {**shipped["applications"][0]["args"], "backend": "torch"}


def test_gpu_run_ingress_autoscaling_override_changes_only_the_named_ingress_fields():
    """`gpu_serve --ingress-autoscaling upscaling_factor=1` (the spikes stage's `ingress.` entries): Serve applies
    the Ingress's upscaling_factor to the policy's answer too (run 26 went 2 -> 6), so an A/B sets it for the
    Ingress alone; its other fields, the policy and the other deployments stay as shipped."""
    import yaml

    from benchmarks.gpu_serve import GPU_CONFIG, overrides
    from benchmarks.local_cluster import config_values

    def deployments(config):
        return {d["name"]: d for d in config["applications"][0]["deployments"]}

    plain = yaml.safe_load(GPU_CONFIG.read_text())
    overrides(1, 12, "torch", "deployment")(plain)
    config = yaml.safe_load(GPU_CONFIG.read_text())
    fields = config_values(["upscaling_factor=1", "target_ongoing_requests=24"])
    overrides(1, 12, "torch", "deployment", ingress_autoscaling=fields)(config)
    ingress, before = deployments(config)["Ingress"]["autoscaling_config"], deployments(plain)["Ingress"]["autoscaling_config"]
    assert before["upscaling_factor"] != 1 and ingress["upscaling_factor"] == 1
    assert ingress["target_ongoing_requests"] == 24 != before["target_ongoing_requests"]
    assert {k: v for k, v in ingress.items() if k not in fields} == {k: v for k, v in before.items() if k not in fields}
    for name in ("BriefEncoder", "Recommender"):
        assert deployments(config)[name] == deployments(plain)[name]
