"""Benchmark: a 1,000,000-row CSV scored through the service, against the plain script
people would otherwise write, measured in the same run.

    .venv/bin/python bench/bench_csv_service.py               # 1,000,000 rows
    .venv/bin/python bench/bench_csv_service.py --rows 100000

The service path is the real one: gunicorn (deploy/gunicorn.conf.py) receives the
multipart upload from curl, streams it to storage and validates it, charges and
enqueues; a real qcluster (ORM broker, throwaway SQLite database) scores it; the clock
stops when the API says ``succeeded`` (result file written). The plain script is
``pd.read_csv`` + ``predict_proba`` + ``DataFrame.to_csv`` with the same pipeline, in a
fresh process. Peak memory: VmHWM of every qcluster process (sampled while it runs)
and ru_maxrss of the plain script.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import harness
import measure
import workload

PLAIN_SCRIPT = r"""
import json, resource, sys, time
import pandas as pd
from mlmodels.ml.artifacts import load_artifact
source, artifact, sha256, result = sys.argv[1:5]
loaded = load_artifact(artifact, sha256=sha256)
pipeline, schema = loaded.pipeline, loaded.feature_schema
started = time.perf_counter()
frame = pd.read_csv(source)
probabilities = pipeline.predict_proba(frame[schema.feature_names])
frame["prediction"] = pipeline.classes_[probabilities.argmax(axis=1)]
for position, value in enumerate(pipeline.classes_):
    frame[f"probability_{value}"] = probabilities[:, position]
frame.to_csv(result, index=False)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "rows": len(frame),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_plain(source: Path, artifact: Path, sha256: str) -> dict:
    result = workload.OUT / "service_result_plain.csv"
    completed = subprocess.run(
        [sys.executable, "-c", PLAIN_SCRIPT, str(source), str(artifact), sha256, str(result)],
        cwd=workload.ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    result.unlink(missing_ok=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


class PeakMemory(threading.Thread):
    """Samples VmHWM (the kernel's own peak RSS) of a process tree until stopped:
    worker processes may exit before the end, so the last reading is kept per pid."""

    def __init__(self, root_pid: int):
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.peaks: dict[int, int] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.sample()
            self.done.wait(0.2)

    def sample(self) -> None:
        for pid in [self.root_pid, *measure.descendants(self.root_pid)]:
            peak = measure.status_kb(pid, "VmHWM")
            if peak:
                self.peaks[pid] = max(peak, self.peaks.get(pid, 0))

    def stop(self) -> int:
        self.done.set()
        self.join()
        self.sample()
        return max(self.peaks.values(), default=0)


def run_service(stack: harness.Stack, source: Path, token: str, model_id: int) -> dict:
    worker = stack.start_worker()
    web = stack.start_web()
    worker_memory = PeakMemory(worker.pid)
    web_memory = PeakMemory(web.pid)
    worker_memory.start()
    web_memory.start()

    started = time.perf_counter()
    upload = subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            "-X",
            "POST",
            f"{stack.base_url}/api/v1/predictions/",
            "-H",
            f"Authorization: Token {token}",
            "-F",
            f"model={model_id}",
            "-F",
            f"file=@{source};type=text/csv",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    accepted = time.perf_counter()
    body = json.loads(upload.stdout)
    if "id" not in body:
        raise SystemExit(f"the upload was refused: {body}")
    url = f"{stack.base_url}/api/v1/predictions/{body['id']}/"
    while True:
        status, body = harness.api_json(url, token)
        if body.get("status") in ("succeeded", "failed", "canceled"):
            break
        time.sleep(0.1)
    finished = time.perf_counter()
    if body["status"] != "succeeded":
        raise SystemExit(f"the prediction {body['status']}: {body.get('error')}")

    from predictions.models import Prediction

    prediction = Prediction.objects.get(pk=body["id"])
    result_path = Path(stack.env["MEDIA_ROOT"]) / prediction.result_file
    with open(result_path) as handle:
        header = handle.readline().strip()
    outcome = {
        "seconds": finished - started,
        "request_seconds": accepted - started,
        "queue_seconds": (prediction.started_at - prediction.created_at).total_seconds(),
        "worker_seconds": (prediction.finished_at - prediction.started_at).total_seconds(),
        "scoring_seconds": prediction.scoring_seconds,
        "rows": prediction.rows,
        "cost": str(prediction.cost),
        "result_mb": result_path.stat().st_size / 1e6,
        "result_header": header,
        "worker_peak_rss_mb": worker_memory.stop() / 1024,
        "web_peak_rss_mb": web_memory.stop() / 1024,
    }
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-plain", action="store_true", help="only the service")
    arguments = parser.parse_args()

    source = workload.input_csv(arguments.rows)
    print(f"input: {source.name}, {arguments.rows:,} rows x 25 columns, {source.stat().st_size / 1e6:.0f} MB")
    with harness.Stack(name="csv", queue_workers=2, web_workers=2, web_threads=1) as stack:
        artifact, meta = workload.trained_model_files()
        (user, token), *_ = harness.make_users(1)
        model = harness.register_model(owner=user)

        plain = None
        if not arguments.skip_plain:
            plain = run_plain(source, artifact, meta["sha256"])
            print(
                f"plain script : {plain['seconds']:7.2f} s   peak RSS {plain['peak_rss_mb']:6.0f} MB"
                "   (pd.read_csv + predict_proba + to_csv)"
            )
        service = run_service(stack, source, token, model.pk)
        print(
            f"service      : {service['seconds']:7.2f} s   worker peak RSS {service['worker_peak_rss_mb']:6.0f} MB"
            f"   web peak RSS {service['web_peak_rss_mb']:.0f} MB   (submit -> succeeded)"
        )
        print(
            f"   upload + validation (the request) {service['request_seconds']:.2f} s, "
            f"queue {service['queue_seconds']:.2f} s, worker {service['worker_seconds']:.2f} s "
            f"(of which pipeline {service['scoring_seconds']:.2f} s); "
            f"{service['rows']:,} rows charged {service['cost']} coins; result {service['result_mb']:.0f} MB"
        )
        if plain is not None:
            print(
                f"ratio        : the service is {plain['seconds'] / service['seconds']:.2f}x the plain script's speed"
            )
        print(f"this process : peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
