"""Tenants and their API tokens: who is calling, and which tenant and scopes the call may touch."""
