"""core.queries.CompiledQuery: SQL compiled once, run with each call's values, giving
what the ORM gives (on SQLite and on PostgreSQL, where Django wraps integers)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from core.queries import CompiledQuery
from webhooks.models import WebhookSubscription


@pytest.fixture
def subscriptions(alice, bob):
    made = []
    for owner, resource, job_id in ((alice, "prediction", 7), (alice, "model", 7), (bob, "prediction", 8)):
        made.append(
            WebhookSubscription.objects.create(
                owner=owner,
                resource=resource,
                job_id=job_id,
                url="https://hooks.example.com/x",
                events=["completed"],
                created_at=timezone.now(),
            )
        )
    return made


def test_each_call_gets_its_own_values_and_the_orms_answer(subscriptions, alice, bob):
    query = CompiledQuery(
        lambda owner_id, job_id: WebhookSubscription.objects.filter(
            owner_id=owner_id, job_id=job_id, resource="prediction"
        ).values_list("pk", "events"),
        "owner_id",
        "job_id",
    )
    for owner, job_id in ((alice, 7), (bob, 8), (alice, 8), (bob, 7)):
        expected = list(
            WebhookSubscription.objects.filter(owner=owner, job_id=job_id, resource="prediction").values_list(
                "pk", flat=True
            )
        )
        assert [row[0] for row in query.rows(owner_id=owner.pk, job_id=job_id)] == expected
    assert len(query._compiled) == 1  # compiled once


def test_instances_are_models_with_their_fields_converted(subscriptions):
    query = CompiledQuery(
        lambda job_id: WebhookSubscription.objects.filter(job_id=job_id).only("pk", "events").order_by("pk"),
        "job_id",
    )
    found = query.instances(WebhookSubscription, job_id=7)
    assert [subscription.pk for subscription in found] == [subscriptions[0].pk, subscriptions[1].pk]
    assert found[0].events == ["completed"]  # JSON decoded, as the ORM does
    assert found[0].url == "https://hooks.example.com/x"  # a deferred field loads when read


def test_a_new_version_compiles_again(subscriptions):
    version = ["one"]
    query = CompiledQuery(
        lambda job_id: WebhookSubscription.objects.filter(job_id=job_id).values_list("pk"),
        "job_id",
        version=lambda: version[0],
    )
    assert len(query.rows(job_id=7)) == 2
    version[0] = "two"
    assert len(query.rows(job_id=8)) == 1
    assert len(query._compiled) == 2
