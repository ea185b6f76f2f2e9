"""Alerts on admission decisions: JSON templates (``render``) and their delivery (``sender``)."""
