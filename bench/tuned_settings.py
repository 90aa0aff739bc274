"""Settings for ``--tuned`` benchmark runs: mlservice.settings with the changes
docs/PERFORMANCE.md recommends, so their effect can be measured before they are made.
Not used by the service itself."""

from mlservice.settings import *  # noqa: F403
from mlservice.settings import Q_CLUSTER

# django-q's monitor prunes successes to save_limit by loading (and locking) every
# stored Success row, unpickling each, for every finished task: with the default of
# 1000 that is the biggest cost per one-row prediction. The job rows (predictions,
# models) are the record; failed tasks are still stored with save_limit < 0.
Q_CLUSTER = {**Q_CLUSTER, "save_limit": -1}
