"""The image files of a labeling project: checked to be images when the project is made, and
read again, bounded, each time the labeling page shows one."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from trainforge.data.image_paths import read_image_bytes
from trainforge.errors import ImageUnreadable, NeedsDeepLearning

# what the page may show, by Pillow's format name; anything else is refused, never served
MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif",
               "BMP": "image/bmp", "WEBP": "image/webp", "TIFF": "image/tiff"}


def _pillow() -> Any:
    try:
        from PIL import Image  # the [dl] extra brings Pillow; text projects never need it
    except ImportError as err:
        raise NeedsDeepLearning("labeling images") from err
    return Image


def image_file(path: str | Path, *, where: str) -> tuple[bytes, str]:
    """The bytes of the image at ``path`` (within the size cap) and its media type.

    Raises:
        ImageUnreadable: naming ``where`` (a row, or the file) when the file is missing, not
            a plain file within the cap, or not an image of a kind a browser shows.
    """
    image_module = _pillow()
    try:
        data = read_image_bytes(path)
    except FileNotFoundError:
        raise ImageUnreadable(where, "no such file") from None
    except OSError as err:
        raise ImageUnreadable(where, err.strerror or type(err).__name__) from None
    try:
        with image_module.open(io.BytesIO(data)) as image:
            kind = str(image.format)
            image.verify()  # structure and checksums, without decoding the pixels
    except (OSError, SyntaxError, ValueError, image_module.DecompressionBombError) as err:
        raise ImageUnreadable(where, str(err) or type(err).__name__) from None
    if kind not in MEDIA_TYPES:
        raise ImageUnreadable(where, f"a {kind} file is not shown in a browser")
    return data, MEDIA_TYPES[kind]
