"""The audit log: who changed what through the API (or the admin), with a diff, per tenant."""
