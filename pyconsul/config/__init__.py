"""Agent configuration: flags and config files merged into one RuntimeConfig.

Entry points: `pyconsul.config.loader.load_agent_config(argv)`, `load_config_sources(files, dirs,
hcl)`, `reload_config(old)`, `validate_paths(paths)`; every problem is a ConfigError.
"""

from pyconsul.config.errors import ConfigError
from pyconsul.config.runtime import RuntimeConfig

__all__ = ["ConfigError", "RuntimeConfig"]
