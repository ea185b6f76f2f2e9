"""Alerts on admission decisions: who hears of one (``events``) and delivery (``sender``).

The templates they render are configuration: ``kenner.config.alert_templates``.
"""
