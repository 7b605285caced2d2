"""Product and delivery-proof photos: check an upload, strip it to pixels, store web-sized copies.

An upload is trusted for nothing: its type comes from decoding it (never from its name or
Content-Type), its size is capped before and after decoding, and what is stored is re-encoded from
pixel data alone, so metadata (EXIF with GPS, XMP, comments, ICC) and anything smuggled around the
image (trailing archives, HTML) never reaches the storage directory. Stored files get random names;
`photo_path` is the only way a serving view should turn a requested name into a path.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from flask_babel import lazy_gettext as _l
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: A 50 MP phone photo (8160 x 6120) still fits; a 200 MP one does not. Checked before decoding.
MAX_PIXELS = 50_000_000
#: Longest side in pixels of each stored derivative. Smaller images are never enlarged.
SIZES: dict[str, int] = {"large": 1200, "thumb": 400}
#: Stored formats: WebP for browsers that take it, JPEG for the rest (and for PDFs, e-mails).
FORMATS: tuple[str, ...] = ("webp", "jpg")

#: Pillow's names for what is accepted. MPO is how Pillow reports a JPEG that carries extra
#: pictures (depth maps, previews), as many phone cameras write; its first picture is used.
_ACCEPTED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP")
_OPENERS = ["JPEG", "PNG", "WEBP"]  # only these decoders ever see an upload
_WEBP_QUALITY = 80
_JPEG_QUALITY = 82
_READ_CHUNK = 1024 * 1024
_KEY_BYTES = 24  # 32 URL-safe characters
_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{20,64}")
_FILENAME_PATTERN = re.compile(r"([A-Za-z0-9_-]{20,64})-(large|thumb)\.(webp|jpg)")
_WHITE = (255, 255, 255)


class PhotoProblem(StrEnum):
    """Why an upload was refused, for code that needs more than the message (API, logs)."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    UNSUPPORTED_TYPE = "unsupported_type"
    TOO_MANY_PIXELS = "too_many_pixels"
    DAMAGED = "damaged"


class PhotoError(ValueError):
    """An upload that cannot be used as a photo; `message` is for the person who uploaded it."""

    def __init__(self, problem: PhotoProblem, message: object) -> None:
        super().__init__(str(message))
        self.problem = problem
        self.message = message


def _refuse(problem: PhotoProblem) -> PhotoError:
    messages = {
        PhotoProblem.EMPTY: _l("The file is empty."),
        PhotoProblem.TOO_LARGE: _l(
            "The photo is larger than %(megabytes)d MB.",
            megabytes=MAX_UPLOAD_BYTES // (1024 * 1024),
        ),
        PhotoProblem.UNSUPPORTED_TYPE: _l("The file is not a JPEG, PNG or WebP image."),
        PhotoProblem.TOO_MANY_PIXELS: _l(
            "The image is too large to process (more than %(megapixels)d megapixels).",
            megapixels=MAX_PIXELS // 1_000_000,
        ),
        PhotoProblem.DAMAGED: _l("The file is damaged or incomplete."),
    }
    return PhotoError(problem, messages[problem])


@dataclass(frozen=True)
class StoredPhoto:
    """A stored photo: its random key and the size in pixels of its large derivative."""

    key: str
    width: int
    height: int

    def __post_init__(self) -> None:
        if not _KEY_PATTERN.fullmatch(self.key):
            raise ValueError(f"not a photo key: {self.key!r}")

    def filename(self, size: str, fmt: str) -> str:
        """The file name of one derivative, e.g. ``filename("thumb", "webp")``."""
        return _filename(self.key, size, fmt)

    def filenames(self) -> list[str]:
        """The file names of every derivative (each size in each format)."""
        return _all_filenames(self.key)


def _filename(key: str, size: str, fmt: str) -> str:
    if size not in SIZES:
        raise ValueError(f"unknown photo size: {size!r}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown photo format: {fmt!r}")
    return f"{key}-{size}.{fmt}"


def _all_filenames(key: str) -> list[str]:
    return [_filename(key, size, fmt) for size in SIZES for fmt in FORMATS]


def store_photo(data: bytes | BinaryIO, storage_dir: Path) -> StoredPhoto:
    """Check an uploaded photo and store it in every size as WebP and JPEG under a new key.

    `data` is the upload's bytes or a binary stream (e.g. ``FileStorage.stream``); at most
    `MAX_UPLOAD_BYTES` + 1 bytes are read from a stream. The upload's name is never used.
    Raises `PhotoError` for anything that is not a sound, reasonably sized JPEG, PNG or WebP;
    other exceptions (e.g. `OSError` on a full disk) are the server's problem. Either all
    files are written or none are.
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Global Pillow switch; if something turned it on, truncated uploads would be accepted.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    raw = _read_upload(data)
    image = _decode(raw)
    del raw
    width, height = _fit(image.size, SIZES["large"])
    encoded = _encode_derivatives(image)
    del image
    key = secrets.token_urlsafe(_KEY_BYTES)
    _write_all(storage_dir, {_filename(key, *size_fmt): blob for size_fmt, blob in encoded.items()})
    return StoredPhoto(key=key, width=width, height=height)


def delete_photo(key: str, storage_dir: Path) -> None:
    """Remove every derivative of a stored photo; files already gone are not an error."""
    if not _KEY_PATTERN.fullmatch(key):
        raise ValueError(f"not a photo key: {key!r}")
    for name in _all_filenames(key):
        (storage_dir / name).unlink(missing_ok=True)


def photo_path(storage_dir: Path, filename: str) -> Path | None:
    """The path of a stored derivative, or None unless `filename` is exactly one we generate
    and the file exists. Serving views use this, so a requested name never becomes a path
    (no ``..``, slashes, backslashes, NUL, encoded characters or other files get through)."""
    if not isinstance(filename, str) or not _FILENAME_PATTERN.fullmatch(filename):
        return None
    path = storage_dir / filename
    return path if path.is_file() else None


def _read_upload(data: bytes | BinaryIO) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        if len(data) > MAX_UPLOAD_BYTES:
            raise _refuse(PhotoProblem.TOO_LARGE)
        raw = bytes(data)  # no copy for bytes
    else:
        chunks: list[bytes] = []
        total = 0
        while total <= MAX_UPLOAD_BYTES:
            chunk = data.read(min(_READ_CHUNK, MAX_UPLOAD_BYTES + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > MAX_UPLOAD_BYTES:
            raise _refuse(PhotoProblem.TOO_LARGE)
        raw = b"".join(chunks)
    if not raw:
        raise _refuse(PhotoProblem.EMPTY)
    return raw


@contextmanager
def _bombs_are_errors() -> Iterator[None]:
    # catch_warnings changes process-wide state; with threads, the worst case is that the
    # "error" filter outlives this block, which only makes Pillow stricter elsewhere too.
    # The own MAX_PIXELS check below refuses bombs whatever the warning filters say.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def _open_checked(raw: bytes) -> ImageFile.ImageFile:
    """Open (parse headers only) and check type and pixel count before any pixel is decoded."""
    image = Image.open(io.BytesIO(raw), formats=_OPENERS)
    if image.format not in _ACCEPTED_FORMATS:
        raise _refuse(PhotoProblem.UNSUPPORTED_TYPE)
    width, height = image.size
    if width < 1 or height < 1:
        raise _refuse(PhotoProblem.DAMAGED)
    if width * height > MAX_PIXELS:
        raise _refuse(PhotoProblem.TOO_MANY_PIXELS)
    return image


def _decode(raw: bytes) -> Image.Image:
    """Decode the upload into an upright RGB image without metadata, at no more than the
    resolution needed (JPEGs are decoded at 1/2, 1/4 or 1/8 scale when that is enough)."""
    try:
        with _bombs_are_errors():
            with _open_checked(raw) as probe:
                probe.verify()  # structure and checksums (PNG CRCs); leaves `probe` unusable
            image = _open_checked(raw)
            if image.format in ("JPEG", "MPO"):
                width, height = _fit(image.size, max(SIZES.values()))
                image.draft("RGB", (width, height))
            image.load()  # raises on a truncated file, as LOAD_TRUNCATED_IMAGES is False
            ImageOps.exif_transpose(image, in_place=True)
            return _to_plain_rgb(image)
    except PhotoError:
        raise
    except UnidentifiedImageError as exc:
        raise _refuse(PhotoProblem.UNSUPPORTED_TYPE) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _refuse(PhotoProblem.TOO_MANY_PIXELS) from exc
    except MemoryError:
        raise
    except Exception as exc:
        # Decoders report damaged input as OSError, SyntaxError, ValueError, EOFError,
        # struct.error and more; to the person uploading they all mean the same thing.
        raise _refuse(PhotoProblem.DAMAGED) from exc


def _to_plain_rgb(image: Image.Image) -> Image.Image:
    """RGB in sRGB, transparency flattened onto white, and a fresh image so no metadata
    (info, EXIF, XMP, comments, ICC profile) travels with the pixels."""
    icc = image.info.get("icc_profile")
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        # 16-bit greyscale PNG; a plain convert would clip everything above 255 to white.
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, _WHITE)
        image.paste(rgba, mask=rgba.getchannel("A"))
        del rgba
    rgb = (_icc_to_srgb(image, icc) if icc else None) or image.convert("RGB")
    clean = Image.new("RGB", rgb.size)
    clean.paste(rgb)
    return clean


def _icc_to_srgb(image: Image.Image, icc: bytes) -> Image.Image | None:
    """Convert from the embedded colour profile (e.g. a phone's Display P3) to sRGB, so the
    photo keeps its colours once the profile is dropped; None if the profile is unusable."""
    if image.mode not in ("RGB", "L", "CMYK"):
        return None
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        return ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


def _fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    width, height = size
    if max(width, height) <= longest:
        return width, height
    scale = longest / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _encode_derivatives(image: Image.Image) -> dict[tuple[str, str], bytes]:
    """Encode every size in every format, largest first, each size resized from the one before
    (cheaper, and as sharp as resizing from the original at these ratios)."""
    encoded: dict[tuple[str, str], bytes] = {}
    current = image
    for size, longest in sorted(SIZES.items(), key=lambda item: -item[1]):
        target = _fit(current.size, longest)
        if target != current.size:
            current = current.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
        for fmt in FORMATS:
            encoded[size, fmt] = _encode(current, fmt)
    return encoded


def _encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "webp":
        image.save(buffer, format="WEBP", quality=_WEBP_QUALITY, method=4)
    else:
        image.save(buffer, format="JPEG", quality=_JPEG_QUALITY, progressive=True, optimize=True)
    return buffer.getvalue()


def _write_all(storage_dir: Path, files: dict[str, bytes]) -> None:
    """Write each file under a temporary name and rename it into place; on any failure,
    remove whatever this call wrote so no partial photo is left behind."""
    storage_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        for name, blob in files.items():
            fd, temp_name = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=storage_dir)
            temp = Path(temp_name)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(blob)
                    handle.flush()
                    os.fsync(handle.fileno())
                temp.chmod(0o644)  # mkstemp makes 0600; a front web server may serve these
                final = storage_dir / name
                os.replace(temp, final)
                written.append(final)
            finally:
                temp.unlink(missing_ok=True)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
