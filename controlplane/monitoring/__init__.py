"""Monitoring (DESIGN.md §7): per-deployment roll-ups of the decisions, per minute and per hour.

Written only by the roll-up consumer (``manage.py consume_rollups``) and the hourly roll of Celery beat;
read by ``GET …/metrics?window=``.
"""
