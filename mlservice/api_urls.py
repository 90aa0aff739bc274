"""/api/v1/: one router for the viewsets, plus each app's plain API views."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from core.middleware import body_limit
from mlmodels.api import AlgorithmViewSet, DatasetViewSet, ModelImportView, TrainedModelViewSet
from mlmodels.experiments_api import ExperimentViewSet
from predictions.api import PredictionViewSet

router = DefaultRouter()
router.register("algorithms", AlgorithmViewSet, basename="algorithm")
router.register("datasets", DatasetViewSet, basename="dataset")
router.register("models", TrainedModelViewSet, basename="model")
router.register("experiments", ExperimentViewSet, basename="experiment")
router.register("predictions", PredictionViewSet, basename="prediction")

urlpatterns = [
    path("", include("accounts.api_urls")),
    path("billing/", include("billing.api_urls")),
    # Before the router: "models/import/" is not a model id.
    path(
        "models/import/",
        body_limit("MODEL_IMPORT_MAX_BYTES")(ModelImportView.as_view()),
        name="model-import",
    ),
    path("", include("predictions.api_urls")),
    path("", include(router.urls)),
]
