"""Who may touch what. Every object endpoint of the API (read from the OpenAPI schema,
so a new one is covered the day it appears) is 404 to another user and 401 to an
anonymous client, over HTTP to the production server; every object page of the site
is 404 to another user. Every form of the site (read from the URL conf) refuses a POST
without its CSRF token, and so does the API for a session; a regenerated API token
replaces the old one at once."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.reliability.client import Http

pytestmark = [pytest.mark.reliability, pytest.mark.postgres, pytest.mark.redis]

ROW = {"age": 61, "income": 72.5, "color": "red", "member": True}
# Which object a path parameter names, by the path's first part under /api/v1/ (or
# the site's URL prefix). A new kind of object must be added here, or the test fails.
OBJECT_BY_PREFIX = {
    "datasets": "dataset",
    "models": "model",
    "predictions": "prediction",
    "experiments": "experiment",
}
# Public by design: the algorithm catalog (the same for everyone).
PUBLIC_OBJECT_PATHS = {"/api/v1/algorithms/{key}/"}
# Anonymous endpoints without a session: nothing for a forged request to ride on.
NO_SESSION_POSTS = {"/api/v1/auth/register/", "/api/v1/auth/token/"}


@pytest.fixture
def objects(live, make_user, make_model):
    """Alice's dataset (ready), private model (ready), a prediction still queued and one
    that succeeded, an experiment still queued; and bob, who owns nothing of hers."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from mlmodels import services as mlmodels_services
    from predictions import services as prediction_services
    from predictions.tasks import run_prediction
    from tests.predictions.conftest import training_frame

    alice, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    upload = SimpleUploadedFile("train.csv", training_frame("classification").to_csv(index=False).encode())
    dataset = mlmodels_services.dataset_upload(user=alice, file=upload, name="train", enqueue_profile=False)
    dataset = mlmodels_services.dataset_profile(dataset_id=dataset.pk)
    model = make_model(owner=alice, is_public=False)
    queued = prediction_services.prediction_submit(user=alice, model_id=model.pk, inputs=[ROW]).prediction
    done = prediction_services.prediction_submit(user=alice, model_id=model.pk, inputs=[ROW]).prediction
    run_prediction(done.pk)  # in this process: the matrix needs a finished job, not a worker
    done.refresh_from_db()
    assert done.status == "succeeded" and dataset.status == "ready"
    experiment = mlmodels_services.experiment_start(
        user=alice, dataset=dataset.pk, target="label", max_trials=2, cv_folds=2
    ).experiment
    return {
        "alice": alice,
        "alice_token": alice_token,
        "bob": bob,
        "bob_token": bob_token,
        "dataset": dataset,
        "model": model,
        "prediction": queued,
        "finished_prediction": done,
        "experiment": experiment,
    }


def snapshot(objects) -> dict[str, Any]:
    """What bob must not be able to change."""
    from billing.models import CoinAccount, LedgerEntry
    from mlmodels.models import Dataset, Experiment, TrainedModel
    from predictions.models import Prediction

    return {
        "experiments": list(
            Experiment.objects.order_by("pk").values_list("pk", "status", "cancel_requested_at")
        ),
        "dataset": Dataset.objects.filter(pk=objects["dataset"].pk).values("status", "name").first(),
        "model": TrainedModel.objects.filter(pk=objects["model"].pk)
        .values("status", "is_public", "is_active", "price_per_row", "deleted_at")
        .first(),
        "predictions": list(Prediction.objects.order_by("pk").values_list("pk", "status")),
        "ledger": LedgerEntry.objects.count(),
        "balances": sorted(CoinAccount.objects.values_list("user_id", "balance")),
    }


def api_object_endpoints(http: Http, token: str) -> list[tuple[str, str]]:
    schema = http.get(
        "/api/schema/?format=json", token=token, headers={"Accept": "application/vnd.oai.openapi+json"}
    )
    assert schema.status == 200, schema.describe()
    endpoints = []
    for path, operations in schema.data["paths"].items():
        if "{" not in path or path in PUBLIC_OBJECT_PATHS:
            continue
        for method in operations:
            if method in ("get", "post", "put", "patch", "delete"):
                endpoints.append((method.upper(), path))
    return sorted(endpoints)


def concrete(path: str, objects) -> str:
    prefix = path.removeprefix("/api/v1/").split("/")[0]
    assert prefix in OBJECT_BY_PREFIX, f"{path}: which object does it name? add it to OBJECT_BY_PREFIX"
    name = OBJECT_BY_PREFIX[prefix]
    if name == "prediction" and path.endswith("/download/"):
        name = "finished_prediction"
    return re.sub(r"\{[^}]+\}", str(objects[name].pk), path)


def test_every_api_object_endpoint_is_404_to_another_user_and_401_to_anonymous(live, objects, figures):
    http: Http = live.http
    endpoints = api_object_endpoints(http, objects["alice_token"])
    assert len(endpoints) >= 8, endpoints
    before = snapshot(objects)
    rows, problems = [], []
    for method, template in endpoints:
        path = concrete(template, objects)
        body = (
            {"is_public": True, "price_per_row": "0"}
            if method == "PATCH"
            else ({} if method != "GET" else None)
        )
        as_bob = http.request(method, path, token=objects["bob_token"], json_body=body)
        anonymous = http.request(method, path, json_body=body)
        rows.append(
            {"endpoint": f"{method} {template}", "other_user": as_bob.status, "anonymous": anonymous.status}
        )
        if as_bob.status != 404 or not as_bob.detail:
            problems.append(f"bob {method} {path}: {as_bob.describe()}")
        if anonymous.status != 401 or "Token" not in anonymous.headers.get("www-authenticate", ""):
            problems.append(f"anonymous {method} {path}: {anonymous.describe()}")
    assert not problems, "\n".join(problems)
    assert snapshot(objects) == before

    # Not vacuous: the owner reaches every object.
    for method, template in endpoints:
        if method == "GET":
            answer = http.get(
                concrete(template, objects), token=objects["alice_token"], headers={"Accept": "*/*"}
            )
            assert answer.status == 200, (template, answer.describe())
    # Lists show another user nothing of hers.
    lists = ("/api/v1/datasets/", "/api/v1/models/?mine=true", "/api/v1/models/", "/api/v1/predictions/")
    for path in (*lists, "/api/v1/experiments/"):
        listed = http.get(path, token=objects["bob_token"]).data["results"]
        assert listed == [], (path, listed)
    ledger = http.get("/api/v1/billing/ledger/", token=objects["bob_token"]).data["results"]
    assert [entry["kind"] for entry in ledger] == ["signup_bonus"]

    figures["api_object_endpoints"] = len(endpoints)
    figures["matrix"] = rows


def web_patterns(patterns=None, prefix: str = "", namespace: str = "") -> list[tuple[str, str, Any]]:
    """(route, name, pattern) of every route in the URL conf outside /admin/ and /api/."""
    found = []
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(pattern.pattern)
        if route.startswith(("admin/", "api/")):
            continue
        if isinstance(pattern, URLResolver):
            inner = (
                f"{namespace}:{pattern.namespace}"
                if namespace and pattern.namespace
                else (pattern.namespace or namespace)
            )
            found += web_patterns(pattern.url_patterns, route, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            found.append((route, f"{namespace}:{pattern.name}" if namespace else pattern.name, pattern))
    return found


def web_url(route: str, name: str, objects) -> str:
    kwargs = {}
    for parameter in re.findall(r"<(?:\w+:)?(\w+)>", route):
        if parameter == "model_pk":
            kwargs[parameter] = objects["model"].pk
            continue
        prefix = route.split("/")[0]
        assert parameter == "pk" and prefix in OBJECT_BY_PREFIX, f"{route}: which object? add it to the test"
        kind = OBJECT_BY_PREFIX[prefix]
        if kind == "prediction" and "download" in route:
            kind = "finished_prediction"
        kwargs[parameter] = objects[kind].pk
    return reverse(name, kwargs=kwargs)


def test_every_object_page_is_404_to_another_user(live, objects, figures):
    bob = Client()
    bob.force_login(objects["bob"])
    alice = Client()
    alice.force_login(objects["alice"])
    anonymous = Client()
    pages = [(route, name) for route, name, _ in web_patterns() if "<" in route]
    assert len(pages) >= 10, pages
    before = snapshot(objects)
    rows = []
    for route, name in pages:
        url = web_url(route, name, objects)
        method, answer = "GET", bob.get(url)
        if answer.status_code == 405:  # an action (cancel, delete): bob sends the form
            method, answer = "POST", bob.post(url, {})
        assert answer.status_code == 404, (method, url, answer.status_code)
        stranger = anonymous.generic(method, url)
        assert stranger.status_code == 302 and "/accounts/login/" in stranger["Location"], (method, url)
        rows.append({"page": name, "method": method, "other_user": 404, "anonymous": "302 to login"})
    assert snapshot(objects) == before
    for route, name in pages:  # not vacuous: the owner gets the page
        url = web_url(route, name, objects)
        assert alice.get(url).status_code in (200, 302, 405), url
    figures["object_pages"] = rows


def admin_urls(objects) -> list[str]:
    from django.contrib import admin

    urls = [
        reverse("admin:index"),
        reverse("admin:login"),
        reverse("admin:logout"),
        reverse("admin:password_change"),
    ]
    urls += [reverse(name) for name in ("admin-operations",) if _reversible(name)]
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        if model_admin.has_add_permission(_StaffRequest(objects["staff"])):
            urls.append(reverse("admin:{}_{}_add".format(*info)))
        first = model.objects.order_by("pk").first() if hasattr(model, "objects") else None
        if first is not None:
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[first.pk]))
            urls.append(reverse("admin:{}_{}_delete".format(*info), args=[first.pk]))
    return urls


def _reversible(name: str) -> bool:
    try:
        reverse(name)
        return True
    except Exception:
        return False


class _StaffRequest:
    def __init__(self, user):
        self.user = user


def test_every_form_refuses_a_post_without_its_csrf_token(live, objects, make_user, figures):
    from accounts.models import User

    staff, _ = make_user("staff", is_staff=True)
    objects["staff"] = User.objects.get(pk=staff.pk)
    alice = Client(enforce_csrf_checks=True)
    alice.force_login(objects["alice"])
    operator = Client(enforce_csrf_checks=True)
    operator.force_login(objects["staff"])
    anonymous = Client(enforce_csrf_checks=True)
    before = snapshot(objects)

    site = sorted({web_url(route, name, objects) for route, name, _ in web_patterns()})
    refused = []
    for url in site:
        answer = alice.post(url, {"amount": "10.00", "mode": "json", "inputs": "[]"})
        assert answer.status_code == 403, ("alice", url, answer.status_code)
        answer = anonymous.post(url, {"username": "alice", "password": "x", "mode": "json"})
        # 403, or sent to log in first by a view that checks CSRF itself after login_required
        assert answer.status_code == 403 or "/accounts/login/" in answer.get("Location", ""), (
            url,
            answer.status_code,
        )
        refused.append(url)
    admin = admin_urls(objects)
    for url in admin:
        answer = operator.post(url, {"post": "yes"})
        assert answer.status_code == 403, (url, answer.status_code)
    assert snapshot(objects) == before
    # Still logged in: the forged logout was refused too.
    assert alice.get(reverse("accounts:profile")).status_code == 200

    # The API with a session (the browsable API) demands the token as well ...
    schema_posts = [
        ("POST", "/api/v1/billing/topup/", {"amount": "10.00"}),
        ("POST", "/api/v1/predictions/", {"model": objects["model"].pk, "inputs": [ROW]}),
        ("POST", f"/api/v1/predictions/{objects['prediction'].pk}/cancel/", {}),
        (
            "POST",
            "/api/v1/models/",
            {
                "name": "x",
                "dataset": objects["dataset"].pk,
                "target": "label",
                "algorithm": "logistic_regression",
            },
        ),
        ("DELETE", f"/api/v1/datasets/{objects['dataset'].pk}/", None),
        ("DELETE", f"/api/v1/models/{objects['model'].pk}/", None),
    ]
    for method, path, body in schema_posts:
        answer = alice.generic(
            method, path, data=json.dumps(body) if body is not None else "", content_type="application/json"
        )
        assert answer.status_code == 403 and "CSRF" in answer.json()["detail"], (
            method,
            path,
            answer.content[:200],
        )
    assert snapshot(objects) == before
    # ... and with it the same session request goes through: the 403s were CSRF.
    alice.get(reverse("billing:page"))
    answer = alice.post(
        "/api/v1/billing/topup/",
        {"amount": "10.00"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=alice.cookies["csrftoken"].value,
    )
    assert answer.status_code == 201, answer.content[:300]

    figures["site_forms_refused"] = len(refused)
    figures["admin_forms_refused"] = len(admin)
    figures["api_session_writes_refused"] = len(schema_posts)
    figures["exempt_by_design"] = sorted(NO_SESSION_POSTS)


def test_a_regenerated_token_replaces_the_old_one_at_once(live, make_user, figures):
    from rest_framework.authtoken.models import Token

    http: Http = live.http
    user, old = make_user("alice")
    assert http.get("/api/v1/me/", token=old).status == 200
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    browser.get(reverse("accounts:profile"))
    answer = browser.post(
        reverse("accounts:regenerate-token"), {"csrfmiddlewaretoken": browser.cookies["csrftoken"].value}
    )
    assert answer.status_code == 302
    new = Token.objects.get(user=user).key
    assert new != old
    refused = http.get("/api/v1/me/", token=old)
    assert refused.status == 401 and refused.detail, refused.describe()
    assert http.post("/api/v1/billing/topup/", token=old, json_body={"amount": "5.00"}).status == 401
    assert http.get("/api/v1/me/", token=new).status == 200
    figures["old_token_after_regeneration"] = refused.status


# --- Client addresses behind the TLS proxy ---------------------------------------------------
# Behind the proxy every request comes from the proxy's address, and X-Forwarded-For says
# who the client is -- but only its last entry, which the proxy appended, can be trusted:
# a client writes whatever it likes in front of it.

PROXY = "127.0.0.1"


def test_the_registration_throttle_cannot_be_dodged_with_a_forged_x_forwarded_for(transactional_db):
    """Each registration brings the signup bonus: an unlimited number of them is free money."""
    from rest_framework.test import APIClient

    from accounts.models import User

    client = APIClient(REMOTE_ADDR=PROXY)
    statuses = []
    for number in range(21):  # THROTTLE_REGISTER is 20/hour
        answer = client.post(
            "/api/v1/auth/register/",
            {"username": f"farmer{number}", "password": "a-Long-passphrase-42"},
            format="json",
            # What the proxy forwards when the client sent "X-Forwarded-For: 203.0.113.N"
            HTTP_X_FORWARDED_FOR=f"203.0.113.{number}, 198.51.100.7",
        )
        statuses.append(answer.status_code)
    assert statuses == [201] * 20 + [429], statuses
    assert User.objects.filter(username__startswith="farmer").count() == 20


def test_failed_logins_of_other_clients_behind_the_proxy_do_not_lock_a_user_out(
    transactional_db, make_user, settings
):
    """The per-address limit must count the client's address, not the proxy's: else
    4 × LOGIN_FAILURE_LIMIT failures by anyone lock every user out of login."""
    from rest_framework.test import APIClient

    from tests.conftest import PASSWORD

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}  # one proxy in front
    user, _ = make_user("alice")
    guesser = APIClient(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.66")
    for number in range(settings.LOGIN_FAILURE_LIMIT * 4):
        guesser.post(
            "/api/v1/auth/token/", {"username": f"victim{number}", "password": "guess"}, format="json"
        )
    alice = APIClient(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.7")
    answer = alice.post(
        "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert answer.status_code == 200, answer.content[:300]
