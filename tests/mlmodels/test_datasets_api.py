"""datasets/: upload, refusals (nothing stored), profile, access, delete."""

from __future__ import annotations

import pytest

from mlmodels.models import Dataset
from mlmodels.tasks import dataset_profile_task
from tests.mlmodels.conftest import classification_csv, media_files, upload_file

URL = "/api/v1/datasets/"


def post_csv(client, content, filename="data.csv", **extra):
    return client.post(URL, {"file": upload_file(content, filename), **extra}, format="multipart")


def test_it_uploads_a_csv_and_reports_columns_kinds_and_missing(alice_api, alice, settings):
    response = post_csv(alice_api, classification_csv(), "customers.csv")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "customers"
    assert body["rows"] == 60
    assert body["status"] == "profiling"
    assert body["columns"][:4] == [
        {"name": "id", "kind": "numeric", "missing": 0},
        {"name": "x", "kind": "numeric", "missing": 0},
        {"name": "noise", "kind": "numeric", "missing": 0},
        {"name": "color", "kind": "categorical", "missing": 1},
    ]
    dataset = Dataset.objects.get(pk=body["id"])
    assert dataset.owner == alice
    assert dataset.encoding == "utf-8-sig" and dataset.delimiter == ","
    stored = media_files(settings)
    assert [path.relative_to(settings.MEDIA_ROOT).as_posix() for path in stored] == [dataset.file.name]
    assert stored[0].read_text() == classification_csv()


def test_it_names_the_dataset_as_asked(alice_api):
    response = post_csv(alice_api, classification_csv(), "x.csv", name="My customers")
    assert response.status_code == 201
    assert response.json()["name"] == "My customers"


def test_it_says_when_it_fell_back_to_another_encoding_and_delimiter(alice_api):
    content = "город;население;регион\nМосква;13000000;центр\nКазань;1300000;Поволжье\n".encode("cp1251")

    response = post_csv(alice_api, content)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["encoding"] == "cp1251"
    assert body["delimiter"] == ";"
    assert any("Windows-1251 (Cyrillic)" in note for note in body["notes"])
    assert any("semicolons" in note for note in body["notes"])
    assert body["columns"][0]["name"] == "город"


BAD_FILES = [
    (b"", "the file is empty"),
    (b"a,b,c\n", "header but no data rows"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "PNG image"),
    (b"a,b,a\n1,2,3\n4,5,6\n", "duplicate column names"),
    (b"a,,c\n1,2,3\n4,5,6\n", "has no name"),
    (b"only\n1\n2\n", "at least two"),
    (b"a,b\n1,2\n3,4,5\n6,7\n", "line 3 has 3 fields, expected 2"),
]


@pytest.mark.parametrize(("content", "message"), BAD_FILES)
def test_a_bad_file_is_a_400_with_the_reason_and_nothing_is_stored(alice_api, settings, content, message):
    response = post_csv(alice_api, content)

    assert response.status_code == 400
    body = response.json()
    assert message in " ".join(body["errors"]["file"])
    assert message.lower() in body["detail"].lower()
    assert Dataset.objects.count() == 0
    assert media_files(settings) == []


def test_a_file_above_the_size_limit_is_a_413_and_nothing_is_stored(alice_api, settings):
    settings.DATASET_MAX_BYTES = 200
    response = post_csv(alice_api, classification_csv())

    assert response.status_code == 413
    assert "limit" in response.json()["errors"]["file"][0]
    assert Dataset.objects.count() == 0
    assert media_files(settings) == []


def test_too_many_rows_is_a_400(alice_api, settings):
    settings.DATASET_MAX_ROWS = 10
    response = post_csv(alice_api, classification_csv())

    assert response.status_code == 400
    assert "limit is 10" in response.json()["errors"]["file"][0]
    assert Dataset.objects.count() == 0
    assert media_files(settings) == []


def test_a_missing_file_or_an_unknown_field_is_a_400(alice_api):
    response = alice_api.post(URL, {"name": "x"}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()["errors"]

    response = post_csv(alice_api, classification_csv(), colour="blue")
    assert response.status_code == 400
    assert "colour" in response.json()["errors"]
    assert Dataset.objects.count() == 0


def test_anonymous_callers_are_refused(api):
    assert post_csv(api, classification_csv()).status_code == 401
    assert api.get(URL).status_code == 401


def test_the_profile_task_makes_the_dataset_ready_with_its_profile(alice_api):
    dataset_id = post_csv(alice_api, classification_csv()).json()["id"]

    waiting = alice_api.get(f"{URL}{dataset_id}/profile/")
    assert waiting.status_code == 409
    assert waiting.json()["status"] == "profiling"

    dataset_profile_task(dataset_id)
    dataset_profile_task(dataset_id)  # a second delivery changes nothing

    assert alice_api.get(f"{URL}{dataset_id}/").json()["status"] == "ready"
    response = alice_api.get(f"{URL}{dataset_id}/profile/")
    assert response.status_code == 200
    profile = response.json()
    assert profile["rows"] == 60
    columns = {column["name"]: column for column in profile["columns"]}
    assert set(columns) == {"id", "x", "noise", "color", "constant", "label"}
    assert len(columns["x"]["histogram"]["counts"]) == 20
    assert sum(columns["x"]["histogram"]["counts"]) == 60
    assert columns["color"]["missing"] == 1
    assert {item["value"] for item in columns["label"]["top"]} == {"churned", "stayed"}
    assert "x" in profile["correlations"]["columns"]


def test_a_dataset_whose_file_vanished_fails_profiling_with_a_reason(alice_api, settings):
    dataset_id = post_csv(alice_api, classification_csv()).json()["id"]
    for path in media_files(settings):
        path.unlink()

    dataset_profile_task(dataset_id)

    dataset = Dataset.objects.get(pk=dataset_id)
    assert dataset.status == "failed"
    assert "missing" in dataset.error
    response = alice_api.get(f"{URL}{dataset_id}/profile/")
    assert response.status_code == 409
    assert response.json()["status"] == "failed"


def test_lists_show_only_the_callers_datasets(alice_api, bob_api, dataset):
    assert [item["id"] for item in alice_api.get(URL).json()["results"]] == [dataset.pk]
    assert bob_api.get(URL).json()["count"] == 0


def test_bob_gets_404_for_alices_dataset_profile_and_delete(bob_api, dataset, settings):
    assert bob_api.get(f"{URL}{dataset.pk}/").status_code == 404
    assert bob_api.get(f"{URL}{dataset.pk}/profile/").status_code == 404
    assert bob_api.delete(f"{URL}{dataset.pk}/").status_code == 404
    assert Dataset.objects.filter(pk=dataset.pk).exists()
    assert len(media_files(settings)) == 1


def test_delete_removes_the_row_and_the_file(
    alice_api, dataset, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.delete(f"{URL}{dataset.pk}/")

    assert response.status_code == 204
    assert not Dataset.objects.filter(pk=dataset.pk).exists()
    assert media_files(settings) == []
    assert alice_api.get(f"{URL}{dataset.pk}/").status_code == 404
