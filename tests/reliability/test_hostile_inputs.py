"""Hostile input against every endpoint that takes input, over HTTP to the production
server: each request answers 4xx with a message that says what is wrong, moves no coin,
creates nothing, and the server answers the next request as usual."""

from __future__ import annotations

import gzip
import io
import json
import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from tests.reliability.client import Answer, Http, multipart

pytestmark = [pytest.mark.reliability, pytest.mark.postgres, pytest.mark.redis]

REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
TOPUP = "/api/v1/billing/topup/"
DATASETS = "/api/v1/datasets/"
MODELS = "/api/v1/models/"
PREDICTIONS = "/api/v1/predictions/"

HEADER = "age,income,color,member"
GOOD_ROW = {"age": 61, "income": 72.5, "color": "red", "member": True}
_UNSET = object()


@dataclass
class Case:
    name: str
    path: str
    json_body: Any = _UNSET
    body: bytes | None = None
    content_type: str | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    fields: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False
    expect: tuple[int, ...] = (400,)

    def send(self, http: Http, token: str) -> Answer:
        body, content_type = self.body, self.content_type
        if self.files is not None:
            body, content_type = multipart(self.fields, self.files)
        kwargs: dict[str, Any] = {"body": body, "content_type": content_type}
        if self.json_body is not _UNSET:
            kwargs = {"json_body": self.json_body}
        return http.post(self.path, token=None if self.anonymous else token, timeout=120, **kwargs)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def csv_file(content: bytes, name: str = "data.csv", content_type: str = "text/csv"):
    return {"file": (name, content, content_type)}


def gzipped(text: str) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as handle:
        handle.write(text.encode())
    return buffer.getvalue()


def corpus(*, model_id: int, dataset_id: int, other_users_model: int) -> list[Case]:
    training = {
        "name": "hostile",
        "dataset": dataset_id,
        "target": "label",
        "algorithm": "logistic_regression",
        "hyperparameters": {},
    }
    ten_thousand_columns = (
        ",".join(f"c{i}" for i in range(10_000)) + "\n" + ",".join("1" * 10_000) + "\n"
    ).encode()
    ten_mb_line = b"a,b\n" + b"x" * (10 * 1024 * 1024) + b"\n"
    predict_csv = (HEADER + "\n61,72.5,red,true\n").encode()
    big_cell = "x" * (200 * 1024)  # over Python's csv field limit (128 KiB)
    unclosed_quote = ('a,b,"c\n' + "1,2,3\n" * 30_000).encode()
    return [
        # --- auth/register/ and auth/token/ (anonymous)
        Case("register: empty body", REGISTER, body=b"", content_type="application/json", anonymous=True),
        Case("register: a JSON list", REGISTER, json_body=[1, 2, 3], anonymous=True),
        Case("register: nested 100,000 deep", REGISTER, body=nested(100_000).encode(), content_type="application/json", anonymous=True),
        Case("register: nested 900 deep", REGISTER, body=f'{{"username": {nested(900)}, "password": "x"}}'.encode(), content_type="application/json", anonymous=True),
        Case("register: HTML in the username", REGISTER, json_body={"username": "<script>alert(1)</script>", "password": "a-Long-passphrase-42"}, anonymous=True),
        Case("register: NUL byte in the username", REGISTER, json_body={"username": "eve\u0000", "password": "a-Long-passphrase-42"}, anonymous=True),
        Case("register: right-to-left override in the username", REGISTER, json_body={"username": "eve\u202egnp.exe", "password": "a-Long-passphrase-42"}, anonymous=True),
        Case("register: 100,000-character username", REGISTER, json_body={"username": "u" * 100_000, "password": "a-Long-passphrase-42"}, anonymous=True),
        Case("register: password 'password'", REGISTER, json_body={"username": "mallory", "password": "password"}, anonymous=True),
        Case("register: username as an object", REGISTER, json_body={"username": {"$ne": None}, "password": "a-Long-passphrase-42"}, anonymous=True),
        Case("register: XML body", REGISTER, body=b"<user><name>x</name></user>", content_type="application/xml", expect=(415,), anonymous=True),
        Case("register: 25 MB body", REGISTER, json_body={"username": "big", "password": "p" * (25 * 1024 * 1024)}, expect=(413,), anonymous=True),
        Case("token: wrong password", TOKEN, json_body={"username": "nobody", "password": "wrong"}, anonymous=True),
        Case("token: invalid JSON", TOKEN, body=b'{"username": "x", "password": ', content_type="application/json", anonymous=True),
        Case("token: form-encoded NUL bytes", TOKEN, body=b"username=%00&password=%00", content_type="application/x-www-form-urlencoded", anonymous=True),
        # --- billing/topup/
        Case("topup: negative amount", TOPUP, json_body={"amount": "-5.00"}),
        Case("topup: zero", TOPUP, json_body={"amount": "0"}),
        Case("topup: overflowing 1e400", TOPUP, json_body={"amount": "1e400"}),
        Case("topup: 10^30 as an integer", TOPUP, json_body={"amount": 10**30}),
        Case("topup: 99,999,999,999,999,999,999.99", TOPUP, json_body={"amount": "99999999999999999999.99"}),
        Case("topup: NaN", TOPUP, json_body={"amount": "NaN"}),
        Case("topup: Infinity", TOPUP, json_body={"amount": "Infinity"}),
        Case("topup: bare NaN literal", TOPUP, body=b'{"amount": NaN}', content_type="application/json"),
        Case("topup: float 0.1", TOPUP, json_body={"amount": 0.1}),
        Case("topup: three decimals", TOPUP, json_body={"amount": "1.005"}),
        Case("topup: a formula", TOPUP, json_body={"amount": "=1+1"}),
        Case("topup: boolean", TOPUP, json_body={"amount": True}),
        Case("topup: above the limit", TOPUP, json_body={"amount": "10000.01"}),
        Case("topup: unknown field", TOPUP, json_body={"amount": "5", "balance": "1000000"}),
        Case("topup: text/plain", TOPUP, body=b"amount=5", content_type="text/plain", expect=(415,)),
        Case("topup: 21 MB form body", TOPUP, body=b"amount=" + b"9" * (21 * 1024 * 1024), content_type="application/x-www-form-urlencoded", expect=(413,)),
        # --- datasets/ (multipart CSV)
        Case("dataset: empty file", DATASETS, files=csv_file(b"")),
        Case("dataset: binary (PNG)", DATASETS, files=csv_file(b"\x89PNG\r\n\x1a\n" + os.urandom(2048), "data.png", "image/png")),
        Case("dataset: UTF-16 text", DATASETS, files=csv_file("a,b\n1,2\n3,4\n".encode("utf-16"))),
        Case("dataset: random bytes", DATASETS, files=csv_file(os.urandom(64 * 1024))),
        Case("dataset: gzip", DATASETS, files=csv_file(gzipped("a,b\n1,2\n" * 100), "data.csv.gz", "application/gzip")),
        Case("dataset: a 10 MB line", DATASETS, files=csv_file(ten_mb_line)),
        Case("dataset: 10,000 columns", DATASETS, files=csv_file(ten_thousand_columns)),
        Case("dataset: one column (wrong delimiter ':')", DATASETS, files=csv_file(b"a:b:c\n1:2:3\n4:5:6\n")),
        Case("dataset: header only", DATASETS, files=csv_file(b"a,b,c\n")),
        Case("dataset: duplicate column names", DATASETS, files=csv_file(b"a,a,b\n1,2,3\n4,5,6\n")),
        Case("dataset: ragged rows", DATASETS, files=csv_file(b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n")),
        Case("dataset: JSON where CSV is expected", DATASETS, files=csv_file(json.dumps([{"a": 1, "b": 2}] * 10).encode(), "data.json", "application/json")),
        Case("dataset: CSV sent as JSON", DATASETS, json_body={"file": "a,b\n1,2\n"}),
        Case("dataset: file as a text field", DATASETS, files={}, fields={"file": "a,b\n1,2\n"}),
        Case("dataset: NUL byte in the name", DATASETS, files=csv_file(b"a,b\n1,2\n3,4\n"), fields={"name": "data\u0000"}),
        Case("dataset: 10,000-character name", DATASETS, files=csv_file(b"a,b\n1,2\n3,4\n"), fields={"name": "n" * 10_000}),
        Case("dataset: two files", DATASETS, files={**csv_file(b"a,b\n1,2\n"), "other": ("x.csv", b"a,b\n1,2\n", "text/csv")}),
        Case("dataset: text/csv body, not multipart", DATASETS, body=b"a,b\n1,2\n", content_type="text/csv", expect=(415,)),
        Case("dataset: a 200 KB header cell", DATASETS, files=csv_file(f"a,b,{big_cell}\n1,2,3\n".encode())),
        Case("dataset: an unclosed quote in the header", DATASETS, files=csv_file(unclosed_quote)),
        Case("dataset: 1.7e308 in a numeric column", DATASETS, files=csv_file(b"a,b,label\n1,2,yes\n1.7e308,3,no\n")),
        # --- models/ (training, JSON)
        Case("train: hyperparameters nested 10,000 deep", MODELS, body=json.dumps(training).replace('"hyperparameters": {}', '"hyperparameters": ' + nested(10_000)).encode(), content_type="application/json"),
        Case("train: hyperparameters nested 900 deep", MODELS, json_body={**training, "hyperparameters": {"C": json.loads(nested(900))}}),
        Case("train: NaN hyperparameter", MODELS, body=json.dumps(training).replace("{}", '{"C": NaN}').encode(), content_type="application/json"),
        Case("train: 1e400 hyperparameter", MODELS, json_body={**training, "hyperparameters": {"C": "1e400"}}),
        Case("train: huge random_state", MODELS, json_body={**training, "random_state": 10**40}),
        Case("train: test_size 1e309", MODELS, body=json.dumps(training)[:-1].encode() + b', "test_size": 1e309}', content_type="application/json"),
        Case("train: unknown target", MODELS, json_body={**training, "target": "<img src=x onerror=alert(1)>"}),
        Case("train: unknown algorithm", MODELS, json_body={**training, "algorithm": "'; DROP TABLE billing_ledgerentry; --"}),
        Case("train: dataset id 10^20", MODELS, json_body={**training, "dataset": 10**20}, expect=(400, 404)),
        Case("train: unknown hyperparameter", MODELS, json_body={**training, "hyperparameters": {"__class__": 1}}),
        Case("train: features not a list", MODELS, json_body={**training, "features": "age"}),
        # --- predictions/ (JSON rows or a CSV file)
        Case("predict: no inputs", PREDICTIONS, json_body={"model": model_id}),
        Case("predict: empty list", PREDICTIONS, json_body={"model": model_id, "inputs": []}),
        Case("predict: missing columns", PREDICTIONS, json_body={"model": model_id, "inputs": [{"age": 1}]}),
        Case("predict: text in a numeric column", PREDICTIONS, json_body={"model": model_id, "inputs": [{**GOOD_ROW, "age": "sixty"}]}),
        Case("predict: 'inf' in a numeric column", PREDICTIONS, json_body={"model": model_id, "inputs": [{**GOOD_ROW, "income": "inf"}]}),
        Case("predict: 1e400 in a numeric column", PREDICTIONS, body=json.dumps({"model": model_id, "inputs": [GOOD_ROW]}).replace("72.5", "1e400").encode(), content_type="application/json"),
        Case("predict: a formula in a numeric column", PREDICTIONS, json_body={"model": model_id, "inputs": [{**GOOD_ROW, "age": "=cmd|' /C calc'!A0"}]}),
        Case("predict: rows nested 10,000 deep", PREDICTIONS, body=f'{{"model": {model_id}, "inputs": {nested(10_000)}}}'.encode(), content_type="application/json"),
        Case("predict: a row nested 900 deep", PREDICTIONS, json_body={"model": model_id, "inputs": [{**GOOD_ROW, "age": json.loads(nested(900))}]}),
        Case("topup: amount nested 900 deep", TOPUP, json_body={"amount": json.loads(nested(900))}),
        Case("predict: CSV text where JSON is expected", PREDICTIONS, json_body={"model": model_id, "inputs": HEADER + "\n61,72.5,red,true\n"}),
        Case("predict: 10,001 JSON rows", PREDICTIONS, json_body={"model": model_id, "inputs": [GOOD_ROW] * 10_001}, expect=(413,)),
        Case("predict: model id 10^20", PREDICTIONS, json_body={"model": 10**20, "inputs": [GOOD_ROW]}, expect=(400, 404)),
        Case("predict: another user's private model", PREDICTIONS, json_body={"model": other_users_model, "inputs": [GOOD_ROW]}, expect=(404,)),
        Case("predict: model as a string", PREDICTIONS, json_body={"model": "<b>1</b>", "inputs": [GOOD_ROW]}),
        Case("predict CSV: empty file", PREDICTIONS, files=csv_file(b""), fields={"model": str(model_id)}),
        Case("predict CSV: binary", PREDICTIONS, files=csv_file(os.urandom(32 * 1024)), fields={"model": str(model_id)}),
        Case("predict CSV: gzip", PREDICTIONS, files=csv_file(gzipped(HEADER + "\n61,72.5,red,true\n" * 50)), fields={"model": str(model_id)}),
        Case("predict CSV: JSON file", PREDICTIONS, files=csv_file(json.dumps([GOOD_ROW]).encode()), fields={"model": str(model_id)}),
        Case("predict CSV: semicolons, missing columns", PREDICTIONS, files=csv_file(b"x;y\n1;2\n"), fields={"model": str(model_id)}),
        Case("predict CSV: a 10 MB line", PREDICTIONS, files=csv_file(HEADER.encode() + b"\n" + b"9" * (10 * 1024 * 1024) + b"\n"), fields={"model": str(model_id)}),
        Case("predict CSV: 10,000 columns", PREDICTIONS, files=csv_file(ten_thousand_columns), fields={"model": str(model_id)}),
        Case("predict CSV: ragged rows", PREDICTIONS, files=csv_file(predict_csv + b"1,2\n"), fields={"model": str(model_id)}),
        Case("predict CSV: header only", PREDICTIONS, files=csv_file(HEADER.encode() + b"\n"), fields={"model": str(model_id)}),
        Case("predict CSV: file and inputs", PREDICTIONS, files=csv_file(predict_csv), fields={"model": str(model_id), "inputs": "[]"}),
        Case("predict CSV: no model", PREDICTIONS, files=csv_file(predict_csv)),
        Case("predict: XML", PREDICTIONS, body=b"<inputs/>", content_type="application/xml"),
        Case("predict: 1.7e308 in a numeric column", PREDICTIONS, json_body={"model": model_id, "inputs": [{**GOOD_ROW, "income": 1.7e308}]}),
        Case("predict: 1.7e308 in a batch of 1,001 rows", PREDICTIONS, json_body={"model": model_id, "inputs": [GOOD_ROW] * 1_000 + [{**GOOD_ROW, "age": 1.7e308}]}),
        Case("predict CSV: 1.7e308 in a numeric column", PREDICTIONS, files=csv_file(predict_csv + b"1.7e308,72.5,red,true\n"), fields={"model": str(model_id)}),
        Case("predict CSV: a 200 KB header cell", PREDICTIONS, files=csv_file(f"{HEADER},{big_cell}\n61,72.5,red,true,1\n".encode()), fields={"model": str(model_id)}),
        Case("predict CSV: 1,001 columns", PREDICTIONS, files=csv_file((HEADER + "".join(f",c{i}" for i in range(997)) + "\n61,72.5,red,true" + ",1" * 997 + "\n").encode()), fields={"model": str(model_id)}),
        Case("predict: 1,001 JSON keys", PREDICTIONS, json_body={"model": model_id, "inputs": [{**GOOD_ROW, **{f"c{i}": 1 for i in range(997)}}]}),
    ]  # fmt: skip


def counts() -> dict[str, Any]:
    from accounts.models import User
    from billing.models import CoinAccount, LedgerEntry
    from core.models import IdempotencyKey
    from mlmodels.models import Dataset, TrainedModel
    from predictions.models import Prediction

    return {
        "users": User.objects.count(),
        "ledger entries": LedgerEntry.objects.count(),
        "coins": sorted(CoinAccount.objects.values_list("pk", "balance")),
        "datasets": Dataset.objects.count(),
        "models": TrainedModel.objects.count(),
        "predictions": Prediction.objects.count(),
        "idempotency keys": IdempotencyKey.objects.count(),
    }


def test_hostile_inputs_are_refused_cleanly_and_cost_nothing(live, make_user, make_model, figures):
    from mlmodels import services as mlmodels_services
    from tests.predictions.conftest import training_frame
    from tests.reliability.figures import Figures  # noqa: F401 (type of figures)

    http: Http = live.http
    alice, token = make_user("alice")
    bob, _ = make_user("bob")
    model = make_model(owner=alice)
    private = make_model(owner=bob)
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("train.csv", training_frame("classification").to_csv(index=False).encode())
    dataset = mlmodels_services.dataset_upload(user=alice, file=upload, name="train", enqueue_profile=False)
    dataset = mlmodels_services.dataset_profile(dataset_id=dataset.pk)
    assert dataset.status == "ready"

    cases = corpus(model_id=model.pk, dataset_id=dataset.pk, other_users_model=private.pk)
    assert len(cases) >= 30
    problems: list[str] = []
    tried: list[dict[str, Any]] = []
    for case in cases:
        before = counts()
        answer = case.send(http, token)
        after = counts()
        me = http.get("/api/v1/me/", token=token)
        tried.append(
            {
                "case": case.name,
                "endpoint": case.path,
                "status": answer.status,
                "detail": answer.detail[:160],
                "seconds": round(answer.seconds, 3),
            }
        )
        if answer.status not in case.expect:
            problems.append(f"{case.name}: expected {case.expect}, got {answer.describe()}")
        elif not answer.is_json or not answer.detail.strip():
            problems.append(f"{case.name}: no JSON detail: {answer.describe()}")
        if after != before:
            changed = {key: (before[key], after[key]) for key in before if before[key] != after[key]}
            problems.append(f"{case.name}: stored something: {changed}")
        if me.status != 200:
            problems.append(f"{case.name}: the server stopped serving: GET me/ → {me.describe()}")

    figures["cases"] = len(cases)
    figures["endpoints"] = sorted({case.path for case in cases})
    figures["tried"] = tried
    figures["status_counts"] = {
        str(status): sum(1 for row in tried if row["status"] == status)
        for status in sorted({row["status"] for row in tried})
    }
    assert not problems, "\n".join(problems)
    assert Decimal(http.get("/api/v1/billing/balance/", token=token).data["balance"]) == Decimal("500.00")


def test_hostile_looking_but_valid_input_is_kept_verbatim_charged_exactly_and_defused_on_export(
    live, start_cluster, make_user, figures
):
    """HTML, formulas, emoji and mixed encodings are data, not errors: they are stored
    as sent, paid for exactly, and a spreadsheet opening the result runs no formula."""
    import csv

    from billing.audit import billing_audit
    from tests.predictions.conftest import training_frame
    from tests.reliability.settling import money_check, settle

    http: Http = live.http
    start_cluster(workers=1)
    alice, token = make_user("alice")

    # A training table whose column names are HTML, a formula and emoji.
    frame = training_frame("classification").rename(
        columns={"color": "<b>color</b>", "income": "=income", "member": "member 🚀"}
    )
    name = '<script>alert("x")</script> ✓ données 数据'
    body, content_type = multipart(
        {"name": name}, {"file": ("évil <b>.csv", frame.to_csv(index=False).encode(), "text/csv")}
    )
    answer = http.post(DATASETS, token=token, body=body, content_type=content_type)
    assert answer.status == 201, answer.describe()
    dataset = answer.data
    assert dataset["name"] == name
    assert [column["name"] for column in dataset["columns"]] == [
        "age",
        "=income",
        "<b>color</b>",
        "member 🚀",
        "label",
    ]

    # Cells in two encodings: the non-UTF-8 part decides (Western European), and the
    # answer says so.
    mixed = b"city,value,label\n" + "Zürich,1,a\n".encode() + "Genève,2,b\n".encode("latin-1") + b"Bern,3,a\n"
    body, content_type = multipart({}, {"file": ("mixed.csv", mixed, "text/csv")})
    answer = http.post(DATASETS, token=token, body=body, content_type=content_type)
    assert answer.status == 201, answer.describe()
    assert answer.data["encoding"] == "cp1252" and "Windows-1252" in json.dumps(answer.data["notes"])

    def ready():
        answer = http.get(f"{DATASETS}{dataset['id']}/", token=token)
        return answer.data["status"] == "ready"

    from tests.conftest import wait_for

    wait_for(ready, timeout=60, what="the dataset profile")

    # Train on it under an HTML name: charged the training price once.
    model_name = "<img src=x onerror=alert(1)> ✓"
    answer = http.post(
        MODELS,
        token=token,
        json_body={
            "name": model_name,
            "dataset": dataset["id"],
            "target": "label",
            "algorithm": "logistic_regression",
            "hyperparameters": {},
        },
        headers={"Prefer": "wait=60"},
    )
    assert answer.status == 201 and answer.data["status"] == "ready", answer.describe()
    model = answer.data
    assert model["name"] == model_name

    # Predict with a formula and a missing token in the cells.
    row = {
        "age": 61,
        "=income": "72.5",
        "<b>color</b>": '=HYPERLINK("http://evil.example/","open")',
        "member 🚀": "NaN",
    }
    answer = http.post(
        PREDICTIONS,
        token=token,
        json_body={"model": model["id"], "inputs": [row, {**row, "age": 30}]},
        headers={"Prefer": "wait=30"},
    )
    assert answer.status in (201, 202), answer.describe()
    prediction_id = answer.data["id"]
    settle([prediction_id], timeout=60)
    assert money_check([prediction_id]) == {"succeeded": 1}
    download = http.get(f"{PREDICTIONS}{prediction_id}/download/", headers={"Accept": "text/csv"})
    assert download.status == 401  # the token is needed for the file too
    download = http.get(
        f"{PREDICTIONS}{prediction_id}/download/", token=token, headers={"Accept": "text/csv"}
    )
    assert download.status == 200, download.describe()
    table = list(csv.reader(io.StringIO(download.body.decode())))
    assert table[0][:4] == ["age", "'=income", "<b>color</b>", "member 🚀"]
    assert all(line[2].startswith("'=HYPERLINK") for line in table[1:])

    training_price = Decimal(
        http.get("/api/v1/algorithms/logistic_regression/", token=token).data["training_price"]
    )
    cost = Decimal(http.get(f"{PREDICTIONS}{prediction_id}/", token=token).data["cost"])
    balance = Decimal(http.get("/api/v1/billing/balance/", token=token).data["balance"])
    assert balance == Decimal("500.00") - training_price - cost
    assert billing_audit() == []
    figures["accepted_verbatim"] = [
        "HTML, emoji and non-Latin text in a dataset name and in column names",
        "a file whose cells mix UTF-8 and latin-1 (read as latin-1, with a note)",
        "HTML in a model name",
        "a spreadsheet formula and a missing-value token (NaN) in prediction cells",
    ]
    figures["charged"] = {"training": str(training_price), "prediction": str(cost)}
    figures["result_csv_header"] = table[0]


MALFORMED_URLS = [
    # Object routes take any text as the id (DRF's default lookup pattern) ...
    "/api/v1/datasets/abc/",
    "/api/v1/datasets/null%2Cnull/profile/",
    "/api/v1/models/false/",
    "/api/v1/predictions/%C2%B9/",  # "¹": a digit to Python's \d, not to int()
    "/api/v1/predictions/x/download/",
    # ... and PostgreSQL refuses a NUL character in any text it is asked to compare.
    "/api/v1/algorithms/%00/",
    "/api/v1/models/?algorithm=%00",
    "/api/v1/models/?status=%00",
    "/api/v1/predictions/?status=%00",
    "/api/v1/datasets/?page=%00",
]


def test_malformed_ids_and_nul_characters_in_urls_answer_4xx(live, make_user):
    http: Http = live.http
    _, token = make_user("alice")
    problems = []
    for path in MALFORMED_URLS:
        answer = http.get(path, token=token)
        if not (400 <= answer.status < 500 and answer.is_json and answer.detail):
            problems.append(f"GET {path}: {answer.describe()}")
    cancel = http.post("/api/v1/predictions/abc/cancel/", token=token)
    if not 400 <= cancel.status < 500:
        problems.append(f"POST /api/v1/predictions/abc/cancel/: {cancel.describe()}")
    assert not problems, "\n".join(problems)
