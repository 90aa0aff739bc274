from django.db import models


class ServiceCounter(models.Model):
    """A counter shared by every process of the service, web and workers, on any
    machine: raised by one UPDATE (mlservice.services.counter_increment), read by
    /metrics. For events that happen only inside one process, such as a worker's
    model cache being hit or missed."""

    name = models.CharField(max_length=64, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} = {self.value}"
