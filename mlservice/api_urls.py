"""/api/v1/: one router for the viewsets, plus each app's plain API views."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from core.api_root import APIRootView
from core.middleware import body_limit
from mlmodels.api import AlgorithmViewSet, DatasetViewSet, ModelImportView, TrainedModelViewSet
from mlmodels.experiments_api import ExperimentViewSet
from predictions.api import PredictionViewSet

# The root view is ours: it lists the plain API views' groups (auth, me, billing) too.
router = DefaultRouter()
router.include_root_view = False
router.register("algorithms", AlgorithmViewSet, basename="algorithm")
router.register("datasets", DatasetViewSet, basename="dataset")
router.register("models", TrainedModelViewSet, basename="model")
router.register("experiments", ExperimentViewSet, basename="experiment")
router.register("predictions", PredictionViewSet, basename="prediction")

api_root = APIRootView.as_view(
    group_urls={
        "auth": "accounts-api:token",
        "me": "accounts-api:me",
        "billing": "billing-api:balance",
        "algorithms": "algorithm-list",
        "datasets": "dataset-list",
        "models": "model-list",
        "experiments": "experiment-list",
        "predictions": "prediction-list",
    }
)

urlpatterns = [
    path("", api_root, name="api-root"),
    path("", include("accounts.api_urls")),
    path("", include("webhooks.api_urls")),
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
