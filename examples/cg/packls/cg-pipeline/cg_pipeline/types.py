"""Asset types (registered on import) and product types of the CG pipeline."""

from pipl_pipe.assets.types import AssetType, asset_type
from pipl_pipe.products import ProductType


@asset_type
class MayaAscii(AssetType):
    name = "maya-ascii"
    extension = "ma"


@asset_type
class TextureFolder(AssetType):
    name = "texture-folder"
    folder = True


@asset_type
class ExrFrames(AssetType):
    name = "exr-frames"
    folder = True


class Model(ProductType):
    name = "model"
    summary = "geometry and textures"


class Rig(ProductType):
    name = "rig"
    summary = "a rigged model, ready to animate"


class Render(ProductType):
    name = "render"
    summary = "rendered frames of a shot"
