"""Every setting, read from the environment once and validated with clear errors (``load``)."""
from threadwise.config.load import ConfigError, LocalRun, Settings, load_settings, local_run

__all__ = ["ConfigError", "LocalRun", "Settings", "load_settings", "local_run"]
