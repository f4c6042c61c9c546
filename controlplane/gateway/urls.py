from django.urls import path

from controlplane.gateway import views

urlpatterns = [
    path("tenants/<slug:tenant>/services/<slug:service>/predict", views.predict, name="predict"),
]
