"""The worker's side of an import (a ``training`` job of a model with
``source=imported``): read the checked file, load it, fit it to its schema, predict the
sample rows, save the service's own artifact, then ready — or failed and refunded.
Outside any transaction; every state change is a conditional UPDATE (core.jobs)."""

from __future__ import annotations

from django.conf import settings

from core.jobs.lifecycle import job_progress, job_succeed
from core.storage import local_copy
from mlmodels.jobs import TRAINING
from mlmodels.ml import imported
from mlmodels.ml.model_files import ModelFile
from mlmodels.ml.schema import FeatureSchema
from mlmodels.models import TrainedModel
from mlmodels.services.files import remove_media_file
from mlmodels.services.imports import model_file_format
from mlmodels.services.training_job import activate_newest, failed_by, save_model_artifact, training_fail


def model_is_imported(*, model_id: int) -> bool:
    source = TrainedModel.objects.filter(pk=model_id).values_list("source", flat=True).first()
    return source == TrainedModel.Source.IMPORTED


def import_execute(*, model_id: int) -> TrainedModel:
    """Check an imported model already claimed (``running``) and make it ready, or fail
    it with a readable reason (the fee refunded). The uploaded file is removed either way:
    what serves predictions is the artifact the service writes itself."""
    model = TrainedModel.objects.select_related("algorithm").get(pk=model_id)
    upload, artifact_name = model.import_upload, ""
    try:
        try:
            # Bounded by MODEL_IMPORT_MAX_BYTES, checked when it was uploaded.
            with local_copy(upload) as path:
                data = path.read_bytes()
        except OSError:
            training_fail(model_id=model_id, error="The uploaded model file is missing; import it again.")
            return TrainedModel.objects.get(pk=model_id)
        job_progress(TRAINING, model_id, stage="checking", progress=30)
        result = imported.import_model(
            data,
            ModelFile(format=model_file_format(model)),
            FeatureSchema.from_dict(model.feature_schema),
            model.import_sample or [],
            max_bytes=settings.MODEL_IMPORT_MAX_BYTES,
        )
        del data
        job_progress(TRAINING, model_id, stage="saving", progress=90)
        artifact_name, info = save_model_artifact(
            model, pipeline=result.model, feature_schema=result.feature_schema
        )
    except Exception as error:
        return failed_by(error, model_id=model_id, artifact_name=artifact_name, work="The import")
    finally:
        remove_media_file(upload)

    succeeded = job_succeed(
        TRAINING,
        model_id,
        then=lambda: activate_newest(TrainedModel.objects.get(pk=model_id)),
        progress=100,
        stage="done",
        feature_schema=result.feature_schema.to_dict(),
        rows_used=result.sample_rows,
        warnings=[
            f"Imported: checked on {result.sample_rows} sample rows; this service measured no metrics.",
        ],
        import_upload="",
        artifact=artifact_name,
        artifact_sha256=info.sha256,
        artifact_size=info.size_bytes,
        library_versions=info.library_versions,
    )
    if not succeeded:
        remove_media_file(artifact_name)
    return TrainedModel.objects.get(pk=model_id)
