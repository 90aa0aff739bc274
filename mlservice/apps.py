from django.apps import AppConfig


class MlserviceConfig(AppConfig):
    name = "mlservice"
    verbose_name = "mlservice"
