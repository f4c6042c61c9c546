from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "controlplane.registry"
    label = "registry"
    verbose_name = "Model registry"

    def ready(self) -> None:
        from celery.signals import worker_init

        from controlplane.registry import checks

        # A missing sandbox is said at start-up (manage.py check, migrate, a Celery worker), not only in reports.
        worker_init.connect(checks.log_sandbox_warning, weak=False)
