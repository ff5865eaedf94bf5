"""`[core] hostname_callable` for the test's Celery workers: the hostname each worker reports on
its task instances, as each replica of the compose service reports its container's hostname."""

from __future__ import annotations

import os


def worker_hostname() -> str:
    return os.environ["VCP_CELERY_WORKER_HOSTNAME"]
