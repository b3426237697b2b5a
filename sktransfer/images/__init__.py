"""Turn images given in any common form into uint8 / float32 RGB batches.

Input forms
-----------
* a 4-D array ``(n, h, w, c)`` with ``c`` in {1, 3, 4}, or a 3-D array
  ``(n, h, w)`` of grayscale images; values must lie in 0..255 (uint8, any
  integer type, or floats, which stay float32 and are never rounded);
* a list, tuple, 1-D array or pandas Series of file paths (``str`` or
  :class:`os.PathLike`), decoded with Pillow in parallel threads.

Colour policy
-------------
Grayscale is repeated to three channels. Transparency (RGBA, LA, PA, palette
or RGB images with a ``transparency`` entry, 4-channel arrays) is composited
on a **white** background, the way a browser or viewer shows the image, rather
than dropped: the colour under fully transparent pixels is arbitrary (often
black) and dropping alpha would feed that hidden colour to the network.
16-bit images (modes ``I;16*`` and ``I``) are scaled with ``v / 257`` so that
0..65535 maps onto 0..255 instead of being clipped at 255; 32-bit float images
(mode ``F``) are taken as 0..1 when their maximum is at most 1, else as 0..255.
CMYK uses Pillow's conversion (Adobe inverted CMYK JPEGs are handled, ICC
profiles are ignored). EXIF orientation is applied. Multi-frame files (GIF,
TIFF) give their first frame.

Resize policy
-------------
Images are resized straight to ``(h, w)`` (the aspect ratio is not kept, as in
``keras.utils.image_dataset_from_directory``); ``crop="center"`` first takes
the largest centred box with the target aspect ratio. The filter is Pillow's
``BILINEAR`` with ``reducing_gap=3``: Pillow widens the triangle kernel by the
reduction factor, so downscaling is properly antialiased, and its weights are
all positive, so unlike LANCZOS or BICUBIC it cannot ring or overshoot; float
images therefore stay inside 0..255 without clipping. ``reducing_gap`` lets
Pillow first box-reduce large images by an integer factor, which is much
faster and visually identical; for the same reason JPEG files six or more
times larger than needed are decoded at a reduced DCT scale (``Image.draft``,
as ``Image.thumbnail`` does) that stays at least three times the target. Arrays
already at the target size are returned as they are (no copy when the dtype
already fits); other arrays are resized image by image with the same filter
(uint8 as Pillow RGB images, floats channel by channel in mode ``F``).
"""

from ..exceptions import UnreadableImageError
from ._decode import (
    FIT_HINT,
    OUTPUT_HINT,
    SKIP_HINT,
    describe_error,
    reports_user_index,
    skip_unreadable,
)
from ._load import load_images
from ._validation import check_image_input, input_checked, is_path_input, num_samples

# FIT_HINT, OUTPUT_HINT, SKIP_HINT, describe_error, input_checked, reports_user_index and
# skip_unreadable serve the estimators and the activation cache, not users.
__all__ = [
    "check_image_input",
    "is_path_input",
    "load_images",
    "num_samples",
]
