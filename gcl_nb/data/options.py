"""How to read a data folder: one definition of the data-source options for load_gs, the CLI and the notebooks.

    DataOptions(image_root="/data/images_wfash").load("/data/marqo_gs_wfash_1m", corpus="split")

The command line's flags for the same options (--image-root, --on-bad-image, --check-images, --corpus) are
declared from HELP in gcl_nb.workbench.commands.common.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from gcl_nb.data.gs import load_gs
from gcl_nb.data.schema import CHECK_IMAGES, ON_BAD_IMAGE, check_choice

HELP = {
    "image_root": "folder holding the image files (tarball layout; default <data>/images). The corpus files' "
    "image_local paths (/input/images/NAME.jpg) are resolved by file name under it",
    "on_bad_image": "a missing or unreadable image: error (stop, naming the file) or skip (the product keeps its "
    "other fields; counted in GSData.bad_images)",
    "check_images": "images checked at load time: none, exists (one folder listing / one pass over the parquet "
    "image column) or decode (also decode each image: slow on the full release)",
    "corpus": "documents searched per split: half (the split's whole corpus half, as the official tarball "
    "evaluator) or split (the products of the split's own rows, as the official Hugging Face evaluator)",
}


@dataclass(frozen=True)
class DataOptions:
    """Where the images are and how strictly they are checked (the arguments of load_gs besides the folder)."""

    image_root: str | None = None
    on_bad_image: str = "error"
    check_images: str = "exists"

    def __post_init__(self):
        if self.image_root is not None:
            object.__setattr__(self, "image_root", str(self.image_root))
        check_choice("on_bad_image", self.on_bad_image, ON_BAD_IMAGE)
        check_choice("check_images", self.check_images, CHECK_IMAGES)

    def load(self, path: str | Path, splits=None, corpus: str = "half"):
        """gcl_nb.data.load_gs(path, these options, splits=splits, corpus=corpus)."""
        return load_gs(path, **asdict(self), splits=splits, corpus=corpus)

    @classmethod
    def coerce(cls, value) -> "DataOptions":
        """A DataOptions from itself, a dict of its fields (e.g. read back from a config.json) or None."""
        if value is None:
            return cls()
        return value if isinstance(value, cls) else cls(**dict(value))
