from django.urls import path

from mlmodels import experiment_views, import_views, views

app_name = "mlmodels"

urlpatterns = [
    path("datasets/", views.dataset_list, name="dataset-list"),
    path("datasets/upload/", views.dataset_upload, name="dataset-upload"),
    path("datasets/sample/", views.dataset_upload_sample, name="dataset-sample"),
    path("datasets/<int:pk>/", views.dataset_detail, name="dataset-detail"),
    path("datasets/<int:pk>/status/", views.dataset_status, name="dataset-status"),
    path("datasets/<int:pk>/delete/", views.dataset_delete, name="dataset-delete"),
    path("models/", views.model_list, name="model-list"),
    path("models/train/", views.model_train, name="model-train"),
    path("models/import/", import_views.model_import, name="model-import"),
    path("models/compare/", views.model_compare, name="model-compare"),
    path("models/<int:pk>/", views.model_detail, name="model-detail"),
    path("models/<int:pk>/status/", views.model_status, name="model-status"),
    path("models/<int:pk>/delete/", views.model_delete, name="model-delete"),
    path("models/<int:pk>/settings/", views.model_settings, name="model-settings"),
    path("models/<int:pk>/activate/", views.model_activate, name="model-activate"),
    path("models/<int:pk>/export/mlflow/", views.model_export_mlflow, name="model-export-mlflow"),
    path("models/<int:pk>/cancel/", views.model_cancel, name="model-cancel"),
    path("experiments/", experiment_views.experiment_list, name="experiment-list"),
    path("experiments/new/", experiment_views.experiment_new, name="experiment-new"),
    path("experiments/<int:pk>/", experiment_views.experiment_detail, name="experiment-detail"),
    path("experiments/<int:pk>/status/", experiment_views.experiment_status, name="experiment-status"),
    path("experiments/<int:pk>/cancel/", experiment_views.experiment_cancel, name="experiment-cancel"),
    path("experiments/<int:pk>/promote/", experiment_views.experiment_promote, name="experiment-promote"),
]
