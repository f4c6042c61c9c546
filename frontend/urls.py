"""Console URLs (*extension (console)*): ``/`` is the overview; everything but login needs a session."""

from django.contrib.auth import views as auth_views
from django.urls import path

from frontend import views

app_name = "console"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("console/assets/<str:name>", views.asset, name="asset"),
    path("console/t/<slug:tenant>/s/<slug:service>/", views.service, name="service"),
    path("console/t/<slug:tenant>/s/<slug:service>/charts.json", views.service_charts, name="service-charts"),
    path("console/t/<slug:tenant>/s/<slug:service>/decisions/", views.decision, name="decision"),
    path("console/t/<slug:tenant>/s/<slug:service>/alerts/", views.alerts, name="alerts"),
    path("console/t/<slug:tenant>/s/<slug:service>/revisions/", views.revisions, name="revisions"),
    path("console/t/<slug:tenant>/audit/", views.audit, name="audit"),
]
