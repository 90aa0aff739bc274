"""POST models/{id}/invocations: MLflow's scoring protocol in front of an ordinary, paid
prediction; and rows as plain lists (columns + data) on POST predictions/."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from billing.audit import billing_audit
from billing.models import LedgerEntry
from predictions.models import Prediction
from tests.predictions.conftest import PRICE, assert_nothing_written

FEATURES = ["age", "income", "color", "member"]
ROWS = [
    [61, 72.5, "red", "true"],
    [20, 31.0, "blue", "false"],
    [45, 50.25, "green", "true"],
    [33, 88.0, None, "false"],
]


def url(model) -> str:
    return f"/api/v1/models/{model.pk}/invocations"


def as_csv(rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FEATURES)
    writer.writerows(["" if value is None else value for value in row] for row in rows)
    return buffer.getvalue()


def records(rows):
    return [dict(zip(FEATURES, row, strict=True)) for row in rows]


@pytest.mark.worker
def test_every_mlflow_input_shape_gives_the_predictions_of_predictions_api_charged_once_each(
    worker, alice_api, alice, classifier, balance
):
    reference = alice_api.post(
        "/api/v1/predictions/",
        {"model": classifier.pk, "inputs": records(ROWS)},
        format="json",
        HTTP_PREFER="wait=30",
    )
    assert reference.status_code == 201, (reference.json(), worker.log()[-2000:])
    results = reference.json()["results"]
    labels = [result["prediction"] for result in results]
    probabilities = [[result["probabilities"][name] for name in ("no", "yes")] for result in results]

    shapes = {
        "dataframe_split": {"dataframe_split": {"columns": FEATURES, "data": ROWS}},
        "dataframe_records": {"dataframe_records": records(ROWS)},
        "instances": {"instances": records(ROWS)},
        "inputs (columns)": {"inputs": {name: [row[i] for row in ROWS] for i, name in enumerate(FEATURES)}},
        "inputs (plain rows)": {"inputs": ROWS},
    }
    for name, body in shapes.items():
        response = alice_api.post(url(classifier), body, format="json")
        assert response.status_code == 200, (name, response.json(), worker.log()[-2000:])
        assert response.json() == {"predictions": labels}, name
        assert response["Location"].startswith("/api/v1/predictions/")
    response = alice_api.generic("POST", url(classifier), as_csv(ROWS), content_type="text/csv")
    assert response.status_code == 200, response.content
    assert response.json() == {"predictions": labels}

    # Probabilities as MLflow's scikit-learn flavour gives them with predict_proba: one list
    # per row, in the order of the model's classes.
    response = alice_api.post(
        url(classifier),
        {
            "dataframe_split": {"columns": FEATURES, "data": ROWS},
            "params": {"predict_method": "predict_proba"},
        },
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {"predictions": probabilities}

    # Plain rows on POST predictions/ too.
    plain = alice_api.post(
        "/api/v1/predictions/",
        {"model": classifier.pk, "columns": FEATURES, "data": ROWS},
        format="json",
        HTTP_PREFER="wait=30",
    )
    assert plain.status_code == 201, plain.json()
    assert plain.json()["results"] == results

    # Every request is a prediction of its own, in the history, charged once.
    requests = 1 + len(shapes) + 1 + 1 + 1
    assert Prediction.objects.filter(owner=alice, status="succeeded").count() == requests
    charges = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PREDICTION_CHARGE)
    assert charges.count() == requests
    cost = PRICE * len(ROWS)
    assert set(charges.values_list("amount", flat=True)) == {-cost}
    assert balance(alice) == Decimal("500.00") - requests * cost
    assert billing_audit() == []


BAD_BODIES = [
    ("not json", "application/json", "{", 400, "non_field_errors"),
    ("two shapes", "json", {"instances": [], "inputs": []}, 400, "non_field_errors"),
    ("no shape", "json", {"rows": []}, 400, "non_field_errors"),
    (
        "short row",
        "json",
        {"dataframe_split": {"columns": FEATURES, "data": [[1, 2, "red"]]}},
        400,
        "dataframe_split",
    ),
    ("text in a number", "json", {"dataframe_records": [{**records(ROWS)[0], "age": "old"}]}, 400, "inputs"),
    ("missing column", "json", {"instances": [{"age": 3}]}, 400, "inputs"),
    ("empty", "json", {"inputs": []}, 400, "inputs"),
    ("unknown param", "json", {"inputs": ROWS, "params": {"method": "x"}}, 400, "params"),
    (
        "bad method",
        "json",
        {"inputs": ROWS, "params": {"predict_method": "score"}},
        400,
        "params.predict_method",
    ),
    ("csv ragged", "text/csv", "age,income,color,member\n1,2\n", 400, "body"),
    ("xml", "application/xml", "<rows/>", 415, "Content-Type"),
]


@pytest.mark.parametrize(
    ("name", "content_type", "body", "status", "field"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
def test_a_bad_body_is_refused_in_both_shapes_before_any_charge(
    alice_api, alice, classifier, balance, settings, name, content_type, body, status, field
):
    if content_type == "json":
        response = alice_api.post(url(classifier), body, format="json")
    else:
        response = alice_api.generic("POST", url(classifier), body, content_type=content_type)
    assert response.status_code == status, response.content
    answer = response.json()
    assert field in answer["errors"], answer
    assert answer["message"] == answer["detail"]
    assert answer["error_code"] == ("BAD_REQUEST")
    assert_nothing_written(alice, balance, settings)


def test_too_many_rows_and_predict_proba_on_a_regressor_cost_nothing(
    alice_api, alice, regressor, balance, settings
):
    settings.PREDICTION_INLINE_ROWS = 3
    response = alice_api.post(url(regressor), {"inputs": ROWS}, format="json")
    assert response.status_code == 413
    response = alice_api.generic("POST", url(regressor), as_csv(ROWS), content_type="text/csv")
    assert response.status_code == 413
    assert "3" in response.json()["detail"]
    response = alice_api.post(
        url(regressor), {"inputs": ROWS[:2], "params": {"predict_method": "predict_proba"}}, format="json"
    )
    assert response.status_code == 400
    assert "regressor" in response.json()["detail"]
    assert_nothing_written(alice, balance, settings)


def test_another_users_private_model_is_not_found(bob_api, classifier):
    response = bob_api.post(url(classifier), {"inputs": ROWS}, format="json")
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_plain_rows_on_predictions_are_checked_before_any_charge(
    alice_api, alice, classifier, balance, settings
):
    for body, field in [
        ({"columns": FEATURES}, "data"),
        ({"columns": FEATURES, "data": [[1, 2]]}, "data"),
        ({"columns": ["age", "age"], "data": [[1, 2]]}, "columns"),
        ({"columns": FEATURES, "data": ROWS, "inputs": records(ROWS)}, "inputs"),
    ]:
        response = alice_api.post("/api/v1/predictions/", {"model": classifier.pk, **body}, format="json")
        assert response.status_code == 400, body
        assert field in response.json()["errors"], (body, response.json())
    assert_nothing_written(alice, balance, settings)


def test_the_path_with_a_trailing_slash_is_the_same_endpoint(alice_api, alice, classifier, balance, settings):
    response = alice_api.post(f"{url(classifier)}/", {"rows": []}, format="json")
    assert response.status_code == 400
    assert response.json()["error_code"] == "BAD_REQUEST"
    assert_nothing_written(alice, balance, settings)
