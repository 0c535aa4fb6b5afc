"""camscan: find Hikvision, Dahua and white-label surveillance devices, with evidence."""

__version__ = "0.1.0"
