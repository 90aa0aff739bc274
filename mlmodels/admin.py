"""Operators' screens: the algorithm catalog (enable, price), datasets, and trained
models (publish, prices per row and per request, active version, description and
card). Changes go through services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Count, QuerySet
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat

from billing.admin import PriceFieldsAdminMixin
from core.errors import ServiceError
from core.jobs.lifecycle import QUEUED, RUNNING
from mlmodels import services
from mlmodels.models import Algorithm, Dataset, ModelImportSettings, TrainedModel


@admin.register(Algorithm)
class AlgorithmAdmin(PriceFieldsAdminMixin, admin.ModelAdmin):
    price_fields = ("training_price",)
    list_display = ["name", "key", "task", "enabled", "training_price", "in_catalog", "models_trained"]
    list_editable = ["enabled", "training_price"]
    list_filter = ["task", "enabled", "in_catalog"]
    search_fields = ["key", "name"]
    readonly_fields = ["key", "name", "task", "description", "in_catalog"]
    fields = ["key", "name", "task", "description", "in_catalog", "enabled", "training_price"]
    actions = ["enable", "disable"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(model_count=Count("trained_models"))

    @admin.display(description="models", ordering="model_count")
    def models_trained(self, algorithm: Algorithm) -> int:
        return algorithm.model_count

    # Rows come from the code catalog (sync_algorithms); operators only tune them.
    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Enable the selected algorithms")
    def enable(self, request, queryset: QuerySet[Algorithm]) -> None:
        count = queryset.update(enabled=True)
        self.message_user(request, f"Enabled {count} algorithm(s).", messages.SUCCESS)

    @admin.action(description="Disable the selected algorithms (no new trainings)")
    def disable(self, request, queryset: QuerySet[Algorithm]) -> None:
        count = queryset.update(enabled=False)
        self.message_user(request, f"Disabled {count} algorithm(s).", messages.SUCCESS)


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "rows", "column_count", "size", "status", "created_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["name", "original_filename", "owner__username"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "owner",
        "token",
        "file",
        "original_filename",
        "size_bytes",
        "rows",
        "columns",
        "encoding",
        "delimiter",
        "notes",
        "status",
        "profile",
        "error",
        "created_at",
    ]
    fields = ["name", *readonly_fields]

    @admin.display(description="columns")
    def column_count(self, dataset: Dataset) -> int:
        return len(dataset.columns)

    @admin.display(description="size", ordering="size_bytes")
    def size(self, dataset: Dataset) -> str:
        return filesizeformat(dataset.size_bytes)

    def has_add_permission(self, request) -> bool:
        return False  # uploads go through the upload page or the API, which check the file

    def delete_model(self, request, obj: Dataset) -> None:
        services.dataset_delete(dataset=obj)

    def delete_queryset(self, request, queryset: QuerySet[Dataset]) -> None:
        for dataset in queryset:
            services.dataset_delete(dataset=dataset)


class AlgorithmNameFilter(admin.SimpleListFilter):
    """Algorithms by name, each name once: "Random forest" covers the classifier and the
    regressor (the task filter tells them apart)."""

    title = "algorithm"
    parameter_name = "algorithm"

    def lookups(self, request, model_admin):
        names = Algorithm.objects.order_by("name").values_list("name", flat=True).distinct()
        return [(name, name) for name in names]

    def queryset(self, request, queryset):
        return queryset.filter(algorithm__name=self.value()) if self.value() else queryset


class TrainedModelAdminForm(forms.ModelForm):
    # Shown only when an operator may publish someone else's model (see get_fieldsets).
    confirm_publish = forms.BooleanField(
        required=False,
        label="Yes, publish it",
        help_text="This model belongs to another user: publishing shows it to everyone.",
    )
    # Set per request by TrainedModelAdmin.get_form: who is editing.
    editing_user = None

    class Meta:
        model = TrainedModel
        fields = ["is_public", "price_per_row", "price_per_request", "description", "model_card"]
        help_texts = {
            "is_public": "Publishing also makes this the active version of its name.",
        }

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("is_public")
            and not self.instance.is_public
            and self.instance.status != TrainedModel.Status.READY
        ):
            raise forms.ValidationError({"is_public": "Only a ready model can be published."})
        if (
            cleaned.get("is_public")
            and not self.instance.is_public
            and publishing_needs_confirmation(self.instance, self.editing_user)
            and not cleaned.get("confirm_publish")
        ):
            owner = self.instance.owner.username
            raise forms.ValidationError(
                {"confirm_publish": f"This model belongs to {owner}: tick the box to publish it to everyone."}
            )
        return cleaned


def publishing_needs_confirmation(model: TrainedModel, user) -> bool:
    """Publishing a model shows it to everyone: an operator confirms before publishing
    a model of another user."""
    return user is None or model.owner_id != user.pk


@admin.register(TrainedModel)
class TrainedModelAdmin(PriceFieldsAdminMixin, admin.ModelAdmin):
    form = TrainedModelAdminForm
    price_fields = ("price_per_row", "price_per_request")
    # Few enough columns that the prices are edited without scrolling sideways at 1366 px
    # (the navigation and the filters take their part): the algorithm, the training fee,
    # the dates and deletion are on each model's page, in the date drill-down and in the
    # filters.
    list_display = [
        "__str__",
        "owner",
        "status",
        "score",
        "is_public",
        "is_active",
        "price_per_row",
        "price_per_request",
    ]
    # Publishing is an action or the change form, both of which ask before publishing
    # another user's model; a checkbox in the list would publish without asking.
    list_editable = ["price_per_row", "price_per_request"]
    list_filter = [
        "status",
        "is_public",
        "is_active",
        "task",
        "source",
        AlgorithmNameFilter,
        ("deleted_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["name", "owner__username", "dataset_name", "target"]
    list_select_related = ["owner", "algorithm"]
    date_hierarchy = "created_at"
    actions = ["make_active", "publish", "unpublish", "fail_and_refund"]
    readonly_fields = [
        "owner",
        "name",
        "version",
        "dataset",
        "dataset_name",
        "algorithm",
        "task",
        "target",
        "requested_features",
        "hyperparameters",
        "test_size",
        "random_state",
        "status",
        "progress",
        "stage",
        "error",
        "task_id",
        "enqueued_at",
        "attempts",
        "metrics",
        "feature_schema",
        "timings",
        "rows_used",
        "rows_dropped",
        "warnings",
        "artifact",
        "artifact_sha256",
        "artifact_size",
        "library_versions",
        "training_fee",
        "is_active",
        "active_pinned",
        "deleted_at",
        "created_at",
        "started_at",
        "finished_at",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "owner",
                    "name",
                    "version",
                    "status",
                    "error",
                    "is_public",
                    "price_per_row",
                    "price_per_request",
                    "is_active",
                    "active_pinned",
                    "description",
                    "model_card",
                ]
            },
        ),
        (
            "Training request",
            {
                "fields": [
                    "dataset",
                    "dataset_name",
                    "algorithm",
                    "task",
                    "target",
                    "requested_features",
                    "hyperparameters",
                    "test_size",
                    "random_state",
                    "training_fee",
                ]
            },
        ),
        (
            "Results",
            {
                "classes": ["collapse"],
                "fields": ["metrics", "feature_schema", "timings", "rows_used", "rows_dropped", "warnings"],
            },
        ),
        (
            "Artifact",
            {
                "classes": ["collapse"],
                "fields": ["artifact", "artifact_sha256", "artifact_size", "library_versions"],
            },
        ),
        (
            "Job",
            {
                "classes": ["collapse"],
                "fields": [
                    "progress",
                    "stage",
                    "task_id",
                    "enqueued_at",
                    "attempts",
                    "created_at",
                    "started_at",
                    "finished_at",
                    "deleted_at",
                ],
            },
        ),
    ]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.editing_user = request.user  # a class made for this request
        return form

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or obj.is_public or not publishing_needs_confirmation(obj, request.user):
            return fieldsets
        (name, options), *rest = fieldsets
        fields = list(options["fields"])
        fields.insert(fields.index("is_public") + 1, "confirm_publish")
        return [(name, {**options, "fields": fields}), *rest]

    @admin.display(description="score")
    def score(self, model: TrainedModel) -> str:
        metrics = model.metrics or {}
        if model.status != TrainedModel.Status.READY:
            return "—"
        if model.task == "classification":
            return f"acc {metrics.get('accuracy', 0):.3f}" if metrics.get("accuracy") is not None else "—"
        return f"R² {metrics['r2']:.3f}" if metrics.get("r2") is not None else "—"

    def has_add_permission(self, request) -> bool:
        return False  # models are trained, not typed in

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the ledger refers to models; owners soft-delete them

    def save_model(self, request, obj: TrainedModel, form, change: bool) -> None:
        # Publishing and pricing go through the service, which keeps one active
        # version per name and refuses to publish an unfinished model.
        changes = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in TrainedModelAdminForm.Meta.fields
        }
        if not changes:
            return
        current = TrainedModel.objects.get(pk=obj.pk)
        try:
            services.model_update_by_staff(model=current, **changes)
        except ServiceError as error:
            self.message_user(request, f"{current}: {error.detail}", messages.ERROR)

    @admin.action(description="Make the selected version the active one of its name")
    def make_active(self, request, queryset: QuerySet[TrainedModel]) -> None:
        self._each(request, queryset, lambda model: services.model_set_active(model=model), "is now active")

    @admin.action(description="Publish to the public catalog (and make active)")
    def publish(self, request, queryset: QuerySet[TrainedModel]):
        others = [
            model
            for model in queryset.select_related("owner")
            if not model.is_public and publishing_needs_confirmation(model, request.user)
        ]
        if others and request.POST.get("confirm") != "yes":
            # An intermediate page: its form posts back to this action with confirm=yes.
            return render(
                request,
                "admin/mlmodels/trainedmodel/publish_confirm.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Publish models of other users?",
                    "others": others,
                    "models": queryset,
                    "opts": self.model._meta,
                    "action_checkbox_name": ACTION_CHECKBOX_NAME,
                },
            )
        self._each(
            request,
            queryset,
            lambda model: services.model_update_by_staff(model=model, is_public=True),
            "is published",
        )

    @admin.action(description="Remove from the public catalog")
    def unpublish(self, request, queryset: QuerySet[TrainedModel]) -> None:
        self._each(
            request,
            queryset,
            lambda model: services.model_update_by_staff(model=model, is_public=False),
            "is no longer public",
        )

    @admin.action(description="Fail a queued or running training and refund its fee")
    def fail_and_refund(self, request, queryset: QuerySet[TrainedModel]) -> None:
        def fail(model: TrainedModel) -> None:
            if not services.training_fail(
                model_id=model.pk,
                error="Stopped by an operator; the fee was refunded.",
                states=(QUEUED, RUNNING),
            ):
                raise ServiceError("it is not queued or running")

        self._each(request, queryset, fail, "was failed and refunded")

    def _each(self, request, queryset, action, done: str) -> None:
        for model in queryset.select_related("owner"):
            try:
                action(model)
            except ServiceError as error:
                self.message_user(request, f"{model}: {error.detail}", messages.ERROR)
            else:
                self.message_user(request, f"{model} {done}.", messages.SUCCESS)


@admin.register(ModelImportSettings)
class ModelImportSettingsAdmin(PriceFieldsAdminMixin, admin.ModelAdmin):
    """The fee of a model import, as ExperimentSettingsAdmin holds the price of a trial."""

    price_fields = ("import_fee",)
    list_display = ["__str__", "import_fee", "fee_now"]
    fields = ["import_fee", "fee_now"]
    readonly_fields = ["fee_now"]

    @admin.display(description="import fee charged now")
    def fee_now(self, settings: ModelImportSettings | None = None):
        return services.import_fee()

    # One row: the settings.
    def has_add_permission(self, request) -> bool:
        return not ModelImportSettings.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


from mlmodels import experiment_admin  # noqa: E402, F401  (registers the experiment screens)
