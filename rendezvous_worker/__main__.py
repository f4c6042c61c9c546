"""``python -m rendezvous_worker``: one rendezvous instance; run several to share the load."""

from __future__ import annotations

import logging
import os
import signal
import sys

from contracts.settings_catalog import read_str
from rendezvous_worker.settings import WorkerSettings
from rendezvous_worker.worker import RendezvousWorker
from streaming import collector


def main() -> int:
    logging.basicConfig(
        level=read_str(os.environ, "RDV_LOG_LEVEL"),
        format="%(asctime)s %(levelname)s rendezvous %(name)s: %(message)s",
        stream=sys.stderr,
    )
    collector.tune()
    worker = RendezvousWorker(WorkerSettings.from_env())
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: worker.stop())
    worker.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
