# Shared helpers: config validation (fails before any job runs) and provenance params.

from istvt import __version__ as ISTVT_VERSION
from istvt.config import ConfigError, ModelConfig

try:
    MODEL_CONFIG = ModelConfig.from_dict(config.get("model"), where="config 'model'")
except (ConfigError, TypeError) as exc:
    raise WorkflowError(f"invalid configuration: {exc}")
