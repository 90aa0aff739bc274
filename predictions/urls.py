from django.urls import path

from predictions import views

app_name = "predictions"

urlpatterns = [
    path("", views.prediction_list, name="list"),
    path("predict/<int:model_pk>/", views.predict, name="predict"),
    path("<int:pk>/", views.prediction_detail, name="detail"),
    path("<int:pk>/status/", views.prediction_status, name="status"),
    path("<int:pk>/cancel/", views.prediction_cancel, name="cancel"),
    path("<int:pk>/download/", views.prediction_download, name="download"),
]
