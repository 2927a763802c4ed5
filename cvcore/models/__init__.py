"""Model families; importing this package registers every catalogue entry.

Add a family by creating its module and importing it here (the registry test checks the
expected set, so a forgotten import fails loudly).
"""

from cvcore.models import efficientnet_lite, torchvision_models  # noqa: F401
