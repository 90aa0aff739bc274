"""The algorithm catalog in the database, kept in step with the code."""

from __future__ import annotations

from decimal import Decimal

from django.core.management import call_command

from mlmodels.ml.catalog import ALGORITHMS
from mlmodels.models import Algorithm
from mlmodels.services import algorithm_sync

API_KEYS = {
    "logistic_regression",
    "svc",
    "random_forest_classifier",
    "gradient_boosting_classifier",
    "catboost_classifier",
    "linear_regression",
    "ridge",
    "lasso",
    "random_forest_regressor",
    "gradient_boosting_regressor",
    "catboost_regressor",
}


def test_migrate_left_every_catalog_algorithm_in_the_database(db):
    assert set(Algorithm.objects.values_list("key", flat=True)) == set(ALGORITHMS) >= API_KEYS


def test_the_list_has_every_key_with_its_hyperparameter_schema(alice_api):
    response = alice_api.get("/api/v1/algorithms/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == len(ALGORITHMS)
    algorithms = {item["key"]: item for item in body["results"]}
    assert set(algorithms) >= API_KEYS
    for key, item in algorithms.items():
        assert item["task"] == ALGORITHMS[key].task
        assert item["enabled"] is True
        assert item["training_price"] == "5.00"
        assert item["hyperparameters"], key
        for parameter in item["hyperparameters"]:
            assert {"name", "type", "default", "min", "max", "choices", "help"} <= set(parameter)
            assert parameter["type"] in ("int", "float", "bool", "choice")
    logistic = {
        parameter["name"]: parameter for parameter in algorithms["logistic_regression"]["hyperparameters"]
    }
    assert logistic["C"]["type"] == "float" and logistic["C"]["default"] == 1.0 and logistic["C"]["min"] > 0
    assert "l1" in logistic["penalty"]["choices"]


def test_one_algorithm_by_key(alice_api):
    response = alice_api.get("/api/v1/algorithms/ridge/")
    assert response.status_code == 200
    assert response.json()["task"] == "regression"
    assert alice_api.get("/api/v1/algorithms/nope/").status_code == 404


def test_sync_keeps_operator_choices_and_retires_what_the_code_dropped(db):
    Algorithm.objects.filter(key="svc").update(
        enabled=False, training_price=Decimal("12.50"), name="Old name"
    )
    Algorithm.objects.create(key="retired_thing", name="Retired", task="regression")

    result = algorithm_sync()

    svc = Algorithm.objects.get(key="svc")
    assert (svc.enabled, svc.training_price, svc.name) == (False, Decimal("12.50"), ALGORITHMS["svc"].name)
    assert result == {"created": [], "updated": ["svc"], "removed": ["retired_thing"]}
    assert Algorithm.objects.get(key="retired_thing").in_catalog is False
    assert algorithm_sync() == {"created": [], "updated": [], "removed": []}


def test_the_command_creates_what_is_missing(db, capsys):
    Algorithm.objects.filter(key="lasso").delete()

    call_command("sync_algorithms")

    assert Algorithm.objects.filter(key="lasso", in_catalog=True).exists()
    assert "created: lasso" in capsys.readouterr().out


def test_retired_algorithms_leave_the_list_and_disabled_ones_say_so(alice_api):
    Algorithm.objects.filter(key="lasso").update(in_catalog=False)
    Algorithm.objects.filter(key="ridge").update(enabled=False)

    algorithms = {item["key"]: item for item in alice_api.get("/api/v1/algorithms/").json()["results"]}

    assert "lasso" not in algorithms
    assert algorithms["ridge"]["enabled"] is False
