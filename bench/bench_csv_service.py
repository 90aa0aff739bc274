"""Benchmark: a 1,000,000-row CSV scored through the service, against the plain script
people would otherwise write, measured in the same run.

    .venv/bin/python bench/bench_csv_service.py               # 1,000,000 rows
    .venv/bin/python bench/bench_csv_service.py --rows 100000
    .venv/bin/python bench/bench_csv_service.py --s3          # local disk and S3 (moto)

The service path is the real one: gunicorn (deploy/gunicorn.conf.py) receives the
multipart upload from curl, streams it to storage and validates it, charges and
enqueues; a real qcluster (ORM broker, throwaway SQLite database) scores it; the clock
stops when the API says ``succeeded`` (result file written). The plain script is
``pd.read_csv`` + ``predict_proba`` + ``DataFrame.to_csv`` with the same pipeline, in a
fresh process. Peak memory: VmHWM of every qcluster process (sampled while it runs)
and ru_maxrss of the plain script.

With ``--s3`` the service runs twice in the same run, each time with fresh processes
and an empty MEDIA_ROOT of its own: on local disk, then on an S3 bucket (moto's
standalone server on loopback, devservers/s3.py; ``STORAGE_URL`` in the environment of
gunicorn and qcluster). The S3 result is read back through the API download, and the
storage transfers alone (input upload, its download, result upload, with the service's
own S3 storage options) are timed afterwards to show where the extra time goes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import harness
import measure
import workload

from devservers.s3 import S3Server

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


def run_service(stack: harness.Stack, source: Path, token: str, model_id: int, *, kind: str) -> dict:
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
    worker_peak, web_peak = worker_memory.stop(), web_memory.stop()

    from predictions.models import Prediction

    prediction = Prediction.objects.get(pk=body["id"])
    if kind == "local":
        result_path = Path(stack.env["MEDIA_ROOT"]) / prediction.result_file
        with open(result_path) as handle:
            header = handle.readline().strip()
        result_bytes = result_path.stat().st_size
    else:  # not on this machine's disk: through the API, as a client reads it
        result_path = workload.OUT / "service_result_s3.csv"
        header, result_bytes = harness.download(f"{url}download/", token, result_path)
    return {
        "seconds": finished - started,
        "request_seconds": accepted - started,
        "queue_seconds": (prediction.started_at - prediction.created_at).total_seconds(),
        "worker_seconds": (prediction.finished_at - prediction.started_at).total_seconds(),
        "scoring_seconds": prediction.scoring_seconds,
        "rows": prediction.rows,
        "cost": str(prediction.cost),
        "result_mb": result_bytes / 1e6,
        "result_header": header,
        "result_path": result_path,
        "worker_peak_rss_mb": worker_peak / 1024,
        "web_peak_rss_mb": web_peak / 1024,
    }


def service_on(
    kind: str, stack: harness.Stack, source: Path, token: str, model, s3: S3Server | None = None
) -> dict:
    """One service run on ``kind`` storage ("local" or "s3"): fresh gunicorn and
    qcluster, an empty MEDIA_ROOT of its own holding nothing but the model artifact
    (local), or an empty bucket holding it (s3)."""
    media = stack.directory / f"media-{kind}"
    shutil.rmtree(media, ignore_errors=True)
    media.mkdir(parents=True)
    artifact, _ = workload.trained_model_files()
    overrides = {"MEDIA_ROOT": str(media)}
    bucket = ""
    if kind == "s3":
        bucket = s3.new_bucket()
        overrides.update(s3.environment(bucket))
        s3.client().upload_file(str(artifact), bucket, model.artifact)
    else:
        overrides.update({"STORAGE_URL": "", "AWS_STORAGE_BUCKET_NAME": ""})
        target = media / model.artifact
        target.parent.mkdir(parents=True)
        shutil.copyfile(artifact, target)
    saved = dict(stack.env)
    stack.env.update(overrides)
    moto_cpu = measure.tree_cpu_seconds(s3.process.pid) if s3 else 0.0
    try:
        outcome = run_service(stack, source, token, model.pk, kind=kind)
    finally:
        stack.stop()
        stack.env = saved
    outcome["environment"] = overrides
    if s3:
        outcome["moto_cpu_seconds"] = measure.tree_cpu_seconds(s3.process.pid) - moto_cpu
        outcome["objects"] = len(s3.keys(bucket))
    outcome["media_files"] = sum(1 for path in media.rglob("*") if path.is_file())
    return outcome


def s3_transfers(environment: dict[str, str], source: Path, result: Path) -> dict:
    """The storage transfers of an S3 run alone, with the service's own S3 storage
    (django-storages, the options ``STORAGE_URL`` gives): the input's upload (the
    request stores it), its download (the worker's local copy, as core.storage does)
    and the result's upload (the worker stores it)."""
    from django.core.files import File
    from django.utils.module_loading import import_string

    from core.storage import _download
    from mlservice.settings import storage_from_environment

    before = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    try:
        config = storage_from_environment()
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    storage = import_string(config["BACKEND"])(**config["OPTIONS"])
    copy = workload.OUT / "s3_transfer_copy.csv"
    timings = {}
    started = time.perf_counter()
    with open(source, "rb") as handle:
        storage.save("timing/input.csv", File(handle, name="input.csv"))
    timings["input_upload_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    with storage.open("timing/input.csv", "rb") as stored, open(copy, "wb") as output:
        _download(storage, stored, output)  # as core.storage.local_copy does
    timings["input_download_seconds"] = time.perf_counter() - started
    copy.unlink()
    started = time.perf_counter()
    with open(result, "rb") as handle:
        storage.save("timing/result.csv", File(handle, name="result.csv"))
    timings["result_upload_seconds"] = time.perf_counter() - started
    storage.delete("timing/input.csv")
    storage.delete("timing/result.csv")
    return timings


def print_service(label: str, service: dict) -> None:
    print(
        f"{label}: {service['seconds']:7.2f} s   worker peak RSS {service['worker_peak_rss_mb']:6.0f} MB"
        f"   web peak RSS {service['web_peak_rss_mb']:.0f} MB   (submit -> succeeded)"
    )
    print(
        f"   upload + validation (the request) {service['request_seconds']:.2f} s, "
        f"queue {service['queue_seconds']:.2f} s, worker {service['worker_seconds']:.2f} s "
        f"(of which pipeline {service['scoring_seconds']:.2f} s); "
        f"{service['rows']:,} rows charged {service['cost']} coins; result {service['result_mb']:.0f} MB"
    )


def load() -> str:
    return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-plain", action="store_true", help="only the service")
    parser.add_argument("--s3", action="store_true", help="the service on local disk and on S3 (moto)")
    arguments = parser.parse_args()

    source = workload.input_csv(arguments.rows)
    print(f"input: {source.name}, {arguments.rows:,} rows x 25 columns, {source.stat().st_size / 1e6:.0f} MB")
    print(f"start: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, {load()}")
    with contextlib.ExitStack() as cleanup:
        stack = cleanup.enter_context(
            harness.Stack(name="csv", queue_workers=2, web_workers=2, web_threads=1)
        )
        s3 = cleanup.enter_context(S3Server(stack.directory / "moto_server.log")) if arguments.s3 else None
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
        service = service_on("local", stack, source, token, model)
        print_service("service      " if s3 is None else "service, disk", service)
        if plain is not None:
            print(
                f"ratio        : the service is {plain['seconds'] / service['seconds']:.2f}x the plain script's speed"
                f" (service / plain script = {service['seconds'] / plain['seconds']:.2f})"
            )
        if s3 is not None:
            on_s3 = service_on("s3", stack, source, token, model, s3)
            print_service("service, S3  ", on_s3)
            print(
                f"   moto_server CPU {on_s3['moto_cpu_seconds']:.1f} s; {on_s3['objects']} objects in the bucket, "
                f"{on_s3['media_files']} files under its MEDIA_ROOT; same result header as on disk: "
                f"{on_s3['result_header'] == service['result_header']}"
            )
            print(
                f"ratio        : S3 / local disk = {on_s3['seconds'] / service['seconds']:.2f} (target <= 1.5)"
                + (f"; S3 / plain script = {on_s3['seconds'] / plain['seconds']:.2f}" if plain else "")
            )
            transfers = s3_transfers(on_s3["environment"], source, on_s3["result_path"])
            print(
                f"S3 transfers alone: input upload {transfers['input_upload_seconds']:.2f} s, "
                f"input download {transfers['input_download_seconds']:.2f} s, "
                f"result upload {transfers['result_upload_seconds']:.2f} s"
            )
            on_s3["result_path"].unlink(missing_ok=True)
        print(f"this process : peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        print(f"end  : {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, {load()}")


if __name__ == "__main__":
    main()
