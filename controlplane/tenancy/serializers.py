"""Tenants and tokens as the API answers them; a token's secret appears only in the create answer."""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from controlplane.tenancy.models import SCOPES, ApiToken, Tenant
from controlplane.tenancy.quotas import tenant_quotas


class UsageSerializer(serializers.Serializer):
    services = serializers.IntegerField()
    models = serializers.IntegerField()
    active_tokens = serializers.IntegerField()


class QuotasSerializer(serializers.Serializer):
    predictions_per_s = serializers.IntegerField()
    in_flight = serializers.IntegerField()
    services = serializers.IntegerField()
    models = serializers.IntegerField()
    versions = serializers.IntegerField()
    deadline_ms = serializers.IntegerField()
    timeout_ms = serializers.IntegerField()


class TenantOutSerializer(serializers.ModelSerializer):
    usage = serializers.SerializerMethodField()
    quotas = serializers.SerializerMethodField()

    class Meta:
        model = Tenant
        fields = ["slug", "name", "created_at", "usage", "quotas"]

    @extend_schema_field(QuotasSerializer)
    def get_quotas(self, tenant: Tenant) -> dict[str, int]:
        """The quotas in force (the operator's override, else the default); read-only here."""
        return asdict(tenant_quotas(tenant))

    @extend_schema_field(UsageSerializer)
    def get_usage(self, tenant: Tenant) -> dict[str, int]:
        return {
            "services": tenant.services.count(),
            "models": tenant.models.count(),
            "active_tokens": tenant.tokens.filter(revoked_at__isnull=True).count(),
        }


class TokenOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class TokenInSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=SCOPES), min_length=1, max_length=4)


class TokenCreatedSerializer(TokenOutSerializer):
    token = serializers.CharField(read_only=True, help_text="The secret: shown in this answer only, never again.")

    class Meta(TokenOutSerializer.Meta):
        fields = [*TokenOutSerializer.Meta.fields, "token"]
        read_only_fields = fields


class KafkaCredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(help_text="The tenant's Kafka principal, `tenant-<slug>`.")
    password = serializers.CharField(help_text="Shown in this answer only; issuing again replaces it.")
    mechanism = serializers.CharField(help_text="The SASL mechanism, e.g. SCRAM-SHA-512.")
    security_protocol = serializers.CharField(help_text="SASL_PLAINTEXT (development) or SASL_SSL.")
    bootstrap_servers = serializers.CharField()
    group_prefix = serializers.CharField(help_text="Consumer groups the tenant may use start with this.")
