"""cvcore: the models, weights, metrics and analysis behind the cvlens dashboard.

Knows nothing of Streamlit. Importing it builds no model and sets no global torch flag.
"""

__version__ = "0.1.0"

from cvcore import user_models  # noqa: E402, F401, I001 (adds the user's imported models to the registry; no torch)
from cvcore.errors import (  # noqa: E402
    CvlensError,
    ImageDecodeError,
    InvalidInputError,
    UnknownModelError,
    WeightsMissingError,
)
from cvcore.registry import ModelSpec, Task, build_model, get_spec, list_models  # noqa: E402

__all__ = [
    "CvlensError",
    "ImageDecodeError",
    "InvalidInputError",
    "ModelSpec",
    "Task",
    "UnknownModelError",
    "WeightsMissingError",
    "build_model",
    "get_spec",
    "list_models",
]
