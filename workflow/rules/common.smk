# Shared helpers: config validation (fails before any job runs) and provenance params.

from istvt import __version__ as ISTVT_VERSION
from istvt.config import ConfigError, ModelConfig
from istvt.data.demo import DemoOptions
from istvt.data.preprocess import PreprocessOptions

try:
    MODEL_CONFIG = ModelConfig.from_dict(config.get("model"), where="config 'model'")
    DEMO_OPTIONS = DemoOptions.from_dict(config.get("demo"))
    PREPROCESS_OPTIONS = PreprocessOptions.from_dict(
        {
            **config.get("preprocess", {}),
            "sequence_length": MODEL_CONFIG.sequence_length,
            "image_size": MODEL_CONFIG.image_size,
        }
    )
except (ConfigError, TypeError, ValueError) as exc:
    raise WorkflowError(f"invalid configuration: {exc}")
