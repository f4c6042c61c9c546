from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "controlplane.feedback"
    label = "feedback"
    verbose_name = "Feedback"
