"""Model runner: a Kafka process hosting many model versions of one pool (DESIGN.md §2, §9).

It follows ``rdv.config``, loads the versions deployed to its pool, reads the requests of their
services, scores them in micro-batches per version and writes each score to the same partition
number as its request. Run it with ``python -m model_runner``.
"""

from model_runner.loading import LoadedModel, ModelLoadError, RowError, load_model
from model_runner.settings import RunnerSettings, SettingsError

__all__ = ["LoadedModel", "ModelLoadError", "RowError", "RunnerSettings", "SettingsError", "load_model"]
