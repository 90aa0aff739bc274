"""Plain API views of predictions (the viewset is on the router in mlservice/api_urls)."""

from django.urls import path

from predictions.invocations_api import InvocationsSlashView, InvocationsView

urlpatterns = [
    # MLflow's path has no trailing slash; the spelling with one works too (not in the schema).
    path("models/<int:pk>/invocations", InvocationsView.as_view(), name="model-invocations"),
    path("models/<int:pk>/invocations/", InvocationsSlashView.as_view()),
]
