"""Automation: refreshes, sensors, schedules and freshness that keep the lake up to date."""
