"""One lock for the library calls that read or write `os.environ` as a whole.

MLflow's `log_model` sets and removes `_MLFLOW_IS_IN_SERVING_ENVIRONMENT` while it validates the
input example, and Great Expectations copies `os.environ` when it builds a context; on the
threads of `retrain_all` the copy can meet the removal (KeyError). Both run under this lock.
"""

import threading

ENVIRON_LOCK = threading.Lock()
