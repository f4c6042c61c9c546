"""Decision records read from ``rdv.<t>.<s>.decisions``: stored for lookup by request id, then expired.

Written only by the decisions consumer (``manage.py consume_decisions``); read by the API and the admin.
"""
