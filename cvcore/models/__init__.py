"""Model families; importing this package registers every catalogue entry.

Add a family by creating its module and importing it here (the registry test checks the
expected set, so a forgotten import fails loudly).
"""

from cvcore.models import efficientnet_lite, enet, fcn_vgg, lenet, mobilenet_v1, plain_resnet, torchvision_models, unet  # noqa: F401
