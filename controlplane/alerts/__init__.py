"""Alerts: thresholds per service on what monitoring measures; an alert is raised, stored, sent to the
service's webhook, and cleared when the value is back (DESIGN.md §7 *Alerts*)."""
