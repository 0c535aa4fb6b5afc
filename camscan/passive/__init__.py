"""Passive mode: devices found and identified from traffic heard, never from packets sent."""
