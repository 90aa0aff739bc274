"""Web forms. They check types and build the arguments of the same services the API
calls; every rule (ranges, target checks, hyperparameters) is the service's."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.forms.utils import pretty_name
from django.urls import reverse

from billing.models import MAX_PRICE
from core.errors import ServiceError
from core.forms import IdempotentForm, add_service_error
from core.units import human_size
from mlmodels import selectors
from mlmodels.ml import catalog, preprocessing, targets
from mlmodels.ml.crossval import MAX_CV_FOLDS, MIN_CV_FOLDS
from mlmodels.models import DESCRIPTION_MAX_LENGTH, MODEL_CARD_MAX_LENGTH, Dataset, TrainedModel

HP_PREFIX = "hp_"


class DatasetUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        allow_empty_file=True,  # the service refuses it, in the same words as the API
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.tsv,.txt,text/csv"}),
    )
    name = forms.CharField(
        max_length=200, required=False, help_text="Optional; defaults to the file name without .csv."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = (
            f"Comma, semicolon or tab separated, with a header line. Up to "
            f"{human_size(settings.DATASET_MAX_BYTES)}, {settings.DATASET_MAX_ROWS:,} rows and "
            f"{settings.DATASET_MAX_COLUMNS} columns. UTF-8 is best; cp1251 and Latin-1 are read too."
        )


def _hyperparameter_field(parameter: catalog.HyperParameter) -> forms.Field:
    label = parameter.name.replace("_", " ").capitalize()
    default = parameter.default
    help_text = parameter.help
    if parameter.type == "bool":
        return forms.BooleanField(label=label, required=False, initial=bool(default), help_text=help_text)
    if parameter.type == "choice":
        return forms.ChoiceField(
            label=label,
            choices=[(choice, choice) for choice in parameter.choices or []],
            initial=default,
            help_text=help_text,
        )
    attrs: dict[str, Any] = {}
    if parameter.min is not None:
        attrs["min"] = parameter.min
    if parameter.max is not None:
        attrs["max"] = parameter.max
    bounds = []
    if parameter.min is not None or parameter.max is not None:
        bounds.append(f"range {_plain(parameter.min)} – {_plain(parameter.max)}")
    if parameter.nullable:
        bounds.append("leave empty for none")
    if bounds:
        help_text = f"{help_text} ({'; '.join(bounds)})"
    if parameter.type == "int":
        attrs["step"] = 1
        return forms.IntegerField(
            label=label,
            required=not parameter.nullable,
            initial=default,
            help_text=help_text,
            widget=forms.NumberInput(attrs=attrs),
        )
    attrs["step"] = "any"
    return forms.FloatField(
        label=label,
        required=not parameter.nullable,
        initial=default,
        help_text=help_text,
        widget=forms.NumberInput(attrs=attrs),
    )


def _left_out_by_default(column: dict[str, Any] | None, rows: int) -> bool:
    """A feature box starts unchecked for a column the engine would leave out: empty,
    constant, identifier-like text, or whole numbers 1..n, one per row (an id)."""
    if column is None:
        return False
    distinct = int(column.get("unique", 0))
    present = rows - int(column.get("missing", 0)) - int(column.get("invalid", 0))
    if preprocessing.drop_reason_by_counts(column["kind"], distinct=distinct, present=present, rows=rows):
        return True
    low, high = column.get("min"), column.get("max")
    return (
        column["kind"] == "numeric"
        and rows > 2
        and distinct == rows
        and low is not None
        and high is not None
        and float(low).is_integer()
        and high - low == rows - 1
    )


def _plain(number: float | None) -> str:
    if number is None:
        return "∞"
    return str(int(number)) if float(number).is_integer() and abs(number) < 1e15 else f"{number:g}"


class AlgorithmChoiceField(forms.ChoiceField):
    """Shows the algorithms that suit the chosen target, but accepts any enabled one:
    an algorithm of the wrong task is the service's refusal, which says why."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.accepted: set[str] = set()

    def valid_value(self, value) -> bool:
        return value in self.accepted or super().valid_value(value)


class TrainForm(IdempotentForm):
    """dataset → target → algorithm → its hyperparameters → advanced options. The
    target, feature and hyperparameter fields depend on the chosen dataset, target
    and algorithm; the page re-renders the form (htmx) when those change."""

    name = forms.CharField(
        label="Model name",
        max_length=100,
        help_text="Training again under the same name makes its next version.",
    )
    # The name this form last suggested (dataset-target): replaced by the next
    # suggestion when the dataset or target changes, unless the user typed their own.
    default_name = forms.CharField(required=False, widget=forms.HiddenInput)
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none(), empty_label="Choose a dataset…")
    target = forms.ChoiceField(
        label="Target column", choices=[], help_text="The column the model learns to predict."
    )
    algorithm = AlgorithmChoiceField(choices=[])
    test_size = forms.FloatField(
        label="Test size",
        initial=targets.DEFAULT_TEST_SIZE,
        help_text=(
            f"Share of the rows held out to measure the model "
            f"({targets.MIN_TEST_SIZE}–{targets.MAX_TEST_SIZE})."
        ),
        widget=forms.NumberInput(
            attrs={"min": targets.MIN_TEST_SIZE, "max": targets.MAX_TEST_SIZE, "step": 0.05}
        ),
    )
    random_state = forms.IntegerField(
        label="Random seed",
        initial=targets.DEFAULT_RANDOM_STATE,
        help_text="The same seed, data and settings give the same model.",
        widget=forms.NumberInput(attrs={"min": 0, "step": 1}),
    )
    cv_folds = forms.IntegerField(
        label="Cross-validation folds",
        required=False,
        help_text=(
            f"Optional ({MIN_CV_FOLDS}–{MAX_CV_FOLDS}): also score the model on that many folds of the "
            "training part, shown as mean ± spread beside the holdout figures. Takes about that many times longer."
        ),
        widget=forms.NumberInput(attrs={"min": MIN_CV_FOLDS, "max": MAX_CV_FOLDS, "step": 1}),
    )
    refit_full = forms.BooleanField(
        label="Refit on every row",
        required=False,
        initial=True,
        help_text="Once measured on the holdout, the model that serves predictions is fit again on all rows.",
    )
    features = forms.MultipleChoiceField(
        label="Feature columns",
        required=False,
        choices=[],
        widget=forms.CheckboxSelectMultiple,
        help_text="Uncheck a column to leave it out. Identifier-like and constant columns start unchecked.",
    )

    def __init__(self, *args, user, **kwargs):
        # A re-rendered form (htmx) sends its key; an unchecked box is not sent at all,
        # so there a missing refit_full means "off", not the default.
        sent = kwargs.get("initial") or {}
        if "idempotency_key" in sent:
            sent["refit_full"] = bool(sent.get("refit_full"))
        super().__init__(*args, **kwargs)
        self.user = user
        # Changing the dataset, target or algorithm re-renders the dependent fields.
        refresh = {
            "hx-get": reverse("mlmodels:model-train"),
            "hx-trigger": "change",
            "hx-target": "#train-fields",
            "hx-swap": "outerHTML",
            "hx-include": "closest form",
        }
        for name in ("dataset", "target", "algorithm"):
            self.fields[name].widget.attrs.update(refresh)
        # A dataset still being profiled can be trained on already (the service says why).
        datasets = selectors.dataset_list_for_user(user=user).exclude(status=Dataset.Status.FAILED)
        self.fields["dataset"].queryset = datasets
        self.chosen_dataset = self._chosen_dataset(datasets)
        self.algorithms = list(selectors.algorithm_list(enabled_only=True).order_by("task", "name"))

        columns = self.chosen_dataset.columns if self.chosen_dataset is not None else []
        self.fields["target"].choices = [("", "Choose the target…")] + [
            (column["name"], f"{column['name']} ({column['kind']})") for column in columns
        ]
        target = self._value("target")
        if target not in {column["name"] for column in columns}:
            target = None
        profile = (self.chosen_dataset.profile or {}) if self.chosen_dataset is not None else {}
        profiled = {column["name"]: column for column in profile.get("columns", [])}
        # What the target is, from the profile ("2 values → binary classification");
        # None until a target is chosen and the profile is ready.
        self.target_task: targets.TargetTask | None = None
        if target is not None and target in profiled:
            self.target_task = targets.target_task(
                profiled[target]["kind"], int(profiled[target].get("unique", 0))
            )

        self.fields["algorithm"].accepted = {algorithm.key for algorithm in self.algorithms}
        offered = [
            algorithm
            for algorithm in self.algorithms
            if self.target_task is None
            or not self.target_task.tasks
            or algorithm.task in self.target_task.tasks
        ]
        grouped: dict[str, list[tuple[str, str]]] = {}
        for algorithm in offered:
            price = "free" if not algorithm.training_price else f"{algorithm.training_price} coins"
            task = algorithm.get_task_display()
            grouped.setdefault(task, []).append(
                (algorithm.key, f"{algorithm.name} ({task.lower()}) — {price}")
            )
        self.fields["algorithm"].choices = [("", "Choose an algorithm…"), *grouped.items()]

        self.fields["features"].choices = [
            (column["name"], f"{column['name']} ({column['kind']})")
            for column in columns
            if column["name"] != target
        ]
        rows = int(profile.get("rows", 0))
        self.default_features = [
            name
            for name, _ in self.fields["features"].choices
            if not _left_out_by_default(profiled.get(name), rows)
        ]
        if not self.is_bound:
            self._suggest_name(target)
            if self.initial.get("features") is None:
                self.initial["features"] = self.default_features

        if not self.is_bound and self._value("algorithm") not in {algorithm.key for algorithm in offered}:
            # The target just changed to one this algorithm does not suit: choose again.
            self.initial["algorithm"] = ""
        self.spec = catalog.ALGORITHMS.get(self._value("algorithm") or "")
        if self.spec is not None and self.spec.key not in {algorithm.key for algorithm in self.algorithms}:
            self.spec = None
        self.hyperparameter_names: list[str] = []
        for parameter in self.spec.hyperparameters if self.spec else []:
            field_name = HP_PREFIX + parameter.name
            self.fields[field_name] = _hyperparameter_field(parameter)
            self.hyperparameter_names.append(field_name)
        self._messages_in_label_words()

    def _suggest_name(self, target: str | None) -> None:
        """dataset-target as the model's name, unless the user typed one of their own."""
        if self.chosen_dataset is None or target is None:
            return
        suggestion = f"{self.chosen_dataset.name}-{target}"[:100]
        current = (self.initial.get("name") or "").strip()
        if not current or current == (self.initial.get("default_name") or "").strip():
            self.initial["name"] = suggestion
        self.initial["default_name"] = suggestion

    def clean_features(self) -> list[str]:
        features = self.cleaned_data["features"]
        if not features and self.fields["features"].choices:
            raise forms.ValidationError("Check at least one feature column.")
        return features

    def _value(self, name: str) -> str | None:
        if self.is_bound:
            return self.data.get(name) or None
        value = self.initial.get(name)
        return getattr(value, "pk", value) if value not in (None, "") else None

    def _chosen_dataset(self, datasets) -> Dataset | None:
        value = self._value("dataset")
        if value is None or not str(value).isdigit():
            return None
        return datasets.filter(pk=int(value)).first()

    @property
    def chosen_algorithm(self):
        return next(
            (algorithm for algorithm in self.algorithms if self.spec and algorithm.key == self.spec.key), None
        )

    @property
    def hyperparameter_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.hyperparameter_names]

    def service_arguments(self) -> dict[str, Any]:
        """The service's arguments from what the form could read. On an invalid form,
        a field it could not read is left to the service's default (or its "choose…"
        message), so the service still checks everything else in the same pass."""
        data = self.cleaned_data
        hyperparameters = {
            name[len(HP_PREFIX) :]: data.get(name) for name in self.hyperparameter_names if name in data
        }
        dataset = data.get("dataset")
        return {
            "name": data.get("name"),
            "dataset": dataset.pk if dataset is not None else None,
            "target": data.get("target"),
            "algorithm": data.get("algorithm"),
            "hyperparameters": hyperparameters,
            "test_size": data.get("test_size"),
            "random_state": data.get("random_state"),
            # The columns the engine would choose by itself: leave the choice to it
            # (it also leaves out identifier-like numbers the profile cannot tell).
            "features": (
                None
                if set(data.get("features") or self.default_features) == set(self.default_features)
                else list(data["features"])
            ),
            "cv_folds": data.get("cv_folds"),
            "refit_full": bool(data.get("refit_full")),
        }

    def add_service_error(self, error: ServiceError) -> None:
        """Place the service's ``hyperparameters.<name>`` errors on the generated
        fields, the rest as add_service_error does — in the words of each field's
        label, and only on fields the form has not marked already (an invalid form is
        checked by the service too, so every error shows at once)."""
        renamed: dict[str, list[str]] = {}
        for field, messages in error.errors.items():
            if field.startswith("hyperparameters.") and HP_PREFIX + field.split(".", 1)[1] in self.fields:
                name, raw = HP_PREFIX + field.split(".", 1)[1], field.split(".", 1)[1]
                renamed[name] = [self._in_label_words(name, message, raw) for message in messages]
            elif field.startswith("hyperparameters"):
                renamed["__all__"] = renamed.get("__all__", []) + messages
            elif field in self.fields:
                renamed[field] = [self._in_label_words(field, message, field) for message in messages]
            else:
                renamed[field] = messages
        renamed = {field: messages for field, messages in renamed.items() if field not in self.errors}
        if not renamed:
            return
        shown = ServiceError(error.detail, {k: v for k, v in renamed.items() if k != "__all__"})
        add_service_error(self, shown)
        for message in renamed.get("__all__", []):
            self.add_error(None, message)

    def _in_label_words(self, field: str, message: str, raw_name: str) -> str:
        """ "alpha must be …" and "Must be …" read "Alpha must be …": the field's label
        starts the sentence, as the page shows it."""
        label = str(self.fields[field].label or pretty_name(field))
        if message.startswith(raw_name + " "):
            return f"{label} {message[len(raw_name) + 1 :]}"
        if message[:5].lower() == "must ":
            return f"{label} must {message[5:]}"
        return message

    def _messages_in_label_words(self) -> None:
        for name, field in self.fields.items():
            label = str(field.label or pretty_name(name))
            field.error_messages["required"] = f"{label} is required."
            if isinstance(field, forms.IntegerField):
                field.error_messages["invalid"] = f"{label} must be a whole number."
            elif isinstance(field, forms.FloatField):
                field.error_messages["invalid"] = f"{label} must be a number."


class ModelFilterForm(forms.Form):
    """The model list's filters (GET)."""

    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *TrainedModel.Status.choices])
    algorithm = forms.ChoiceField(required=False, choices=[])
    dataset = forms.TypedChoiceField(required=False, choices=[], coerce=int, empty_value=None)
    target = forms.ChoiceField(required=False, choices=[])
    sort = forms.ChoiceField(
        required=False,
        choices=[("", "Newest first")]
        + [(sort.key, f"Best {sort.label}") for sort in selectors.METRIC_SORTS.values()],
    )
    mine = forms.BooleanField(required=False, label="Only mine")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["algorithm"].choices = [("", "Any algorithm")] + [
            (algorithm.key, f"{algorithm.name} ({algorithm.get_task_display().lower()})")
            for algorithm in selectors.algorithm_list().order_by("task", "name")
        ]
        datasets, targets = selectors.model_filter_choices(user=user)
        self.fields["dataset"].choices = [("", "Any dataset")] + [(str(pk), name) for pk, name in datasets]
        self.fields["target"].choices = [("", "Any target")] + [(target, target) for target in targets]


class ModelSettingsForm(forms.Form):
    """What an owner (or staff) sets on the model page: the description and card, and
    the prices while the model is private. Only the fields changed are sent to
    mlmodels.services.model_update, whose rules (who may, bounds) are the API's."""

    description = forms.CharField(
        max_length=DESCRIPTION_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One or two sentences, shown in the catalog.",
    )
    model_card = forms.CharField(
        max_length=MODEL_CARD_MAX_LENGTH,
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        label="Model card",
        help_text="Markdown: what the model is for, its data, its limits. Scripts and "
        "non-web links are removed when it is shown.",
    )
    price_per_request = forms.DecimalField(
        min_value=0,
        max_value=MAX_PRICE,
        decimal_places=2,
        max_digits=14,
        help_text="Flat coins per prediction.",
    )
    price_per_row = forms.DecimalField(
        min_value=0,
        max_value=MAX_PRICE,
        decimal_places=4,
        max_digits=12,
        help_text="Coins per predicted row.",
    )

    def __init__(self, *args, model: TrainedModel, user, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "description": model.description,
                "model_card": model.model_card,
                "price_per_request": model.price_per_request,
                "price_per_row": model.price_per_row,
            },
        )
        super().__init__(*args, **kwargs)
        self.prices_editable = user.is_staff or not model.is_public
        if not self.prices_editable:
            # Staff set a public model's price (in the admin).
            del self.fields["price_per_request"], self.fields["price_per_row"]

    def changes(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.changed_data}
