from django.apps import AppConfig


class DecisionsConfig(AppConfig):
    name = "controlplane.decisions"
    label = "decisions"
    verbose_name = "Decisions"
