"""deploy/: the files parse, fit together, and the dashboard only asks for metrics that
/metrics really serves; the gunicorn hooks and multiprocess mode work."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

BASE_DIR = Path(__file__).resolve().parents[2]
DEPLOY = BASE_DIR / "deploy"
SUFFIXES = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}


def served_names(text: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, [""]))
    return names


def test_the_compose_file_has_every_part_and_they_fit_together():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= {
        "postgres",
        "redis",
        "migrate",
        "web",
        "worker-1",
        "worker-2",
        "prometheus",
        "grafana",
    }
    web = services["web"]
    assert web["command"][:3] == ["gunicorn", "-c", "deploy/gunicorn.conf.py"]
    assert web["environment"]["METRICS_TOKEN_FILE"] == "/run/secrets/metrics_token"
    assert web["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert "metrics_token" in web["secrets"]
    for worker in ("worker-1", "worker-2"):
        assert services[worker]["command"] == ["python", "manage.py", "qcluster"]
    # Every stored file is an object in MinIO: the web and the workers share no volume.
    assert {"minio", "minio-setup"} <= set(services)
    for name in ("migrate", "web", "worker-1", "worker-2"):
        app = services[name]
        assert "volumes" not in app, name
        assert app["environment"]["STORAGE_URL"].startswith("s3://mlservice?endpoint_url=http://minio:9000")
        assert app["environment"]["AWS_SECRET_ACCESS_KEY_FILE"] == "/run/secrets/minio_password"
        assert "minio_password" in app["secrets"]
        assert "MEDIA_ROOT" not in app["environment"]
    assert "media" not in compose["volumes"]
    assert services["migrate"]["depends_on"]["minio-setup"] == {"condition": "service_completed_successfully"}
    assert services["minio-setup"]["depends_on"]["minio"] == {"condition": "service_healthy"}
    assert "mc mb --ignore-existing store/mlservice" in services["minio-setup"]["entrypoint"][-1]
    assert "metrics_token" in services["prometheus"]["secrets"]
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in services["prometheus"]["volumes"]
    grafana_volumes = services["grafana"]["volumes"]
    assert "./grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana_volumes
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in grafana_volumes
    for secret in compose["secrets"].values():
        assert secret["file"].startswith("./secrets/")
    assert (DEPLOY / "Dockerfile").exists()


def test_the_loadgen_service_is_off_unless_its_profile_is_asked_for():
    services = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]
    loadgen = services["loadgen"]
    assert loadgen["profiles"] == ["loadgen"]
    assert loadgen["command"] == ["python", "deploy/loadgen.py"]
    assert (BASE_DIR / loadgen["command"][1]).exists()
    assert loadgen["environment"]["LOADGEN_URL"] == "http://web:8000"
    assert float(loadgen["environment"]["LOADGEN_RATE"]) <= 20
    # Every other service runs without a profile.
    assert [name for name, service in services.items() if "profiles" in service] == ["loadgen"]


def test_prometheus_scrapes_the_web_with_the_token():
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    [job] = [job for job in config["scrape_configs"] if job["job_name"] == "mlservice"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["web:8000"]
    assert job["authorization"] == {"type": "Bearer", "credentials_file": "/run/secrets/metrics_token"}


def test_grafana_provisioning_points_at_the_dashboard_and_prometheus():
    sources = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert sources["datasources"][0]["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/mlservice.yml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_the_dashboard_asks_only_for_metrics_that_are_served(db, scrape):
    dashboard = json.loads((DEPLOY / "grafana/dashboards/mlservice.json").read_text())
    expressions = [
        target["expr"]
        for panel in dashboard["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]
    asked = {name for expr in expressions for name in re.findall(r"\bmlservice_[a-z_]+\b", expr)}
    missing = asked - served_names(scrape().text)
    assert not missing, missing
    # Every chart the issue asks for is there.
    titles = " | ".join(panel["title"] for panel in dashboard["panels"]).lower()
    for topic in (
        "requests",
        "latency",
        "by status",
        "failures",
        "queue depth",
        "queue wait",
        "coins",
        "cache",
    ):
        assert topic in titles, topic
    for panel in dashboard["panels"]:
        if panel["type"] == "timeseries":
            assert panel["fieldConfig"]["defaults"]["custom"]["axisLabel"], panel["title"]


def _monitoring_panels(dashboard: dict) -> list[dict]:
    """The panels of the monitoring row (issue 16): every panel after its row header
    up to the next row."""
    panels = dashboard["panels"]
    start = next(
        i
        for i, panel in enumerate(panels)
        if panel["type"] == "row" and "monitoring" in panel["title"].lower()
    )
    rest = panels[start + 1 :]
    end = next((i for i, panel in enumerate(rest) if panel["type"] == "row"), len(rest))
    return rest[:end]


def test_the_monitoring_panels_show_metrics_a_real_prediction_produces(alice, alice_api, scrape):
    # A classifier and a regressor trained and used through the real services and task.
    from tests.monitoring.conftest import draw, predict_csv, train

    classifier = train(alice)
    regressor = train(alice, task="regression", name="valued")
    predict_csv(alice_api, classifier, draw(250, seed=60, shift_x=1.0))
    predict_csv(alice_api, regressor, draw(30, seed=61))
    served = scrape()

    dashboard = json.loads((DEPLOY / "grafana/dashboards/mlservice.json").read_text())
    panels = _monitoring_panels(dashboard)
    titles = " | ".join(panel["title"] for panel in panels).lower()
    for topic in ("predicted class", "drift", "predicted values", "cpu", "memory"):
        assert topic in titles, topic
    for panel in panels:
        # Each expression names metrics that now have samples, not only a HELP line.
        for target in panel["targets"]:
            for name in re.findall(r"\bmlservice_[a-z_]+\b", target["expr"]):
                assert any(sample.name == name and sample.value > 0 for sample in served.samples), (
                    panel["title"],
                    name,
                )
        if panel["type"] == "timeseries":
            assert panel["fieldConfig"]["defaults"]["custom"]["axisLabel"], panel["title"]
    # Their own ids, apart from the panels above (the other rows are merged separately).
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_the_readme_names_only_metrics_that_are_served(db, scrape):
    documented = set(re.findall(r"`(mlservice_[a-z_]+)`", (DEPLOY / "README.md").read_text()))
    served = served_names(scrape().text)
    missing = {name for name in documented if name not in served and f"{name}_total" not in served}
    assert not missing, missing


def test_the_gunicorn_hooks_empty_the_folder_and_forget_dead_workers(tmp_path, monkeypatch):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_123.db").write_bytes(b"old run")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    config: dict = {}
    exec(compile((DEPLOY / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), config)

    assert config["accesslog"] is None  # it would log query strings
    config["on_starting"](None)
    assert folder.is_dir() and list(folder.iterdir()) == []
    (folder / "gauge_livesum_4242.db").write_bytes(b"")
    config["child_exit"](None, type("Worker", (), {"pid": 4242})())
    assert not (folder / "gauge_livesum_4242.db").exists()


RECORD = """
import sys
from core.http_metrics import record_request
for _ in range(int(sys.argv[1])):
    record_request(view="home", method="GET", status=200, seconds=0.01)
"""

SCRAPE = "from prometheus_client import generate_latest; from operations.metrics import scrape_registry; import sys; sys.stdout.write(generate_latest(scrape_registry(private_names=True)).decode())"


def test_several_web_processes_add_up_in_multiprocess_mode(tmp_path):
    # Two "gunicorn workers" count requests; a third process answers the scrape.
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "mlservice.settings",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    (tmp_path / "prometheus").mkdir()
    workers = [
        subprocess.Popen([sys.executable, "-c", RECORD, count], cwd=BASE_DIR, env=env) for count in ("3", "4")
    ]
    assert [worker.wait(60) for worker in workers] == [0, 0]
    scraped = subprocess.run(
        [sys.executable, "manage.py", "shell", "--verbosity", "0", "-c", SCRAPE],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(scraped.stdout)
        for sample in family.samples
    }
    key = ("mlservice_http_requests_total", (("method", "GET"), ("status", "200"), ("view", "home")))
    assert samples[key] == 7
    # That scrape found no migrated database: it says so instead of failing.
    assert samples[("mlservice_database_metrics_up", ())] == 0
