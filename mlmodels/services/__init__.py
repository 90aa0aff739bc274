"""Everything that changes datasets, algorithms and trained models, by what it does:
``datasets`` (upload, the profile job, delete), ``algorithms`` (the catalog sync),
``training`` (checks and submission), ``training_job`` (the worker's side),
``experiments`` and ``experiment_job`` (the search for the best model, both sides),
``publishing`` (owners' and staff's actions), ``exports`` (a model as an MLflow zip), ``imports``
and ``import_job`` (a model trained elsewhere: the request's checks and the worker's). Views, the API, admin actions, commands
and tasks call these; none of them writes a status, a fee or a file by itself."""

from mlmodels.services.algorithms import algorithm_hyperparameters, algorithm_sync
from mlmodels.services.datasets import (
    dataset_delete,
    dataset_frame,
    dataset_profile,
    dataset_profile_sweep,
    dataset_upload,
    dataset_upload_sample,
)
from mlmodels.services.experiment_job import (
    experiment_claim,
    experiment_execute,
    experiment_fail,
    experiment_succeed,
    experiment_sweep,
)
from mlmodels.services.experiments import (
    ExperimentRequest,
    ExperimentSubmission,
    experiment_cancel,
    experiment_price_per_trial,
    experiment_promote,
    experiment_start,
    experiment_submit,
    experiment_validate,
)
from mlmodels.services.exports import mlflow_export_filename, model_export_mlflow
from mlmodels.services.import_job import import_execute, model_is_imported
from mlmodels.services.imports import (
    ImportSubmission,
    import_fee,
    import_validate,
    model_import,
)
from mlmodels.services.publishing import (
    model_deactivate,
    model_delete,
    model_set_active,
    model_update,
    model_update_by_staff,
)
from mlmodels.services.training import (
    TrainingRequest,
    TrainingSubmission,
    model_cancel,
    model_submit,
    model_train,
    training_validate,
)
from mlmodels.services.training_job import (
    training_claim,
    training_execute,
    training_fail,
    training_succeed,
    training_sweep,
)

__all__ = [
    "mlflow_export_filename",
    "model_export_mlflow",
    "ExperimentRequest",
    "ExperimentSubmission",
    "experiment_cancel",
    "experiment_claim",
    "experiment_execute",
    "experiment_fail",
    "experiment_price_per_trial",
    "experiment_promote",
    "experiment_start",
    "experiment_submit",
    "experiment_succeed",
    "experiment_sweep",
    "experiment_validate",
    "TrainingRequest",
    "TrainingSubmission",
    "algorithm_hyperparameters",
    "algorithm_sync",
    "dataset_delete",
    "dataset_frame",
    "dataset_profile",
    "dataset_profile_sweep",
    "dataset_upload",
    "ImportSubmission",
    "import_execute",
    "import_fee",
    "import_validate",
    "dataset_upload_sample",
    "model_cancel",
    "model_import",
    "model_is_imported",
    "model_deactivate",
    "model_delete",
    "model_set_active",
    "model_submit",
    "model_train",
    "model_update",
    "model_update_by_staff",
    "training_claim",
    "training_execute",
    "training_fail",
    "training_succeed",
    "training_sweep",
    "training_validate",
]
