"""Photo uploads: what is accepted, what is refused, and that only clean pixels are stored."""

import io
import os
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageCms, ImageFile

from catalog import photos
from catalog.photos import (
    MAX_UPLOAD_BYTES,
    SIZES,
    PhotoError,
    PhotoProblem,
    StoredPhoto,
    delete_photo,
    photo_path,
    store_photo,
)

# --- building uploads --------------------------------------------------------------------------


def picture(size: tuple[int, int] = (1600, 1200)) -> Image.Image:
    """Something photo-like: smooth gradients with some grain, so encoders do real work."""
    return Image.merge(
        "RGB",
        [
            Image.linear_gradient("L").resize(size),
            Image.radial_gradient("L").resize(size),
            Image.effect_noise(size, 30),
        ],
    )


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit black PNG of any size, a few kilobytes long: a decompression bomb."""
    row = bytes(1 + (width + 7) // 8)  # filter byte + packed pixels
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG whose frame header claims another size."""
    data = bytearray(encode(picture((64, 48)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def stored_files(storage: Path) -> list[str]:
    return sorted(path.name for path in storage.iterdir())


def open_stored(storage: Path, photo: StoredPhoto, size: str, fmt: str) -> Image.Image:
    image = Image.open(storage / photo.filename(size, fmt))
    image.load()
    return image


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    path = tmp_path / "photos"
    path.mkdir()
    return path


def refused(data: object, storage: Path) -> PhotoError:
    with pytest.raises(PhotoError) as caught:
        store_photo(data, storage)  # type: ignore[arg-type]
    assert stored_files(storage) == []
    return caught.value


# --- what is stored ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "upload",
    [
        pytest.param(lambda: encode(picture(), "JPEG", quality=90), id="jpeg"),
        pytest.param(lambda: encode(picture().convert("RGBA"), "PNG"), id="png"),
        pytest.param(lambda: encode(picture(), "WEBP", quality=90), id="webp"),
    ],
)
def test_a_photo_is_stored_in_two_sizes_as_webp_and_jpeg(upload, storage):
    photo = store_photo(upload(), storage)

    assert (photo.width, photo.height) == (1200, 900)
    assert stored_files(storage) == sorted(
        f"{photo.key}-{size}.{fmt}" for size in ("large", "thumb") for fmt in ("webp", "jpg")
    )
    for size, expected in [("large", (1200, 900)), ("thumb", (400, 300))]:
        for fmt, pillow_format in [("webp", "WEBP"), ("jpg", "JPEG")]:
            image = open_stored(storage, photo, size, fmt)
            assert image.format == pillow_format
            assert image.mode == "RGB"
            assert image.size == expected


def test_a_small_photo_is_never_enlarged(storage):
    photo = store_photo(encode(picture((300, 200)), "PNG"), storage)

    assert (photo.width, photo.height) == (300, 200)
    for size in SIZES:
        for fmt in ("webp", "jpg"):
            assert open_stored(storage, photo, size, fmt).size == (300, 200)


def test_the_longest_side_is_limited_in_portrait_photos_too(storage):
    photo = store_photo(encode(picture((900, 2400)), "JPEG"), storage)

    assert (photo.width, photo.height) == (450, 1200)
    assert open_stored(storage, photo, "thumb", "jpg").size == (150, 400)


def test_a_large_phone_photo_is_decoded_at_reduced_size(storage, monkeypatch):
    upload = encode(picture((4000, 3000)), "JPEG", quality=85)
    decoded = []
    original_load = ImageFile.ImageFile.load

    def recording_load(self):
        decoded.append(self.size)
        return original_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recording_load)

    photo = store_photo(upload, storage)

    assert decoded[0] == (2000, 1500)  # the JPEG decoder scaled by 1/2, not 12 megapixels
    assert (photo.width, photo.height) == (1200, 900)
    assert open_stored(storage, photo, "thumb", "webp").size == (400, 300)


def test_transparency_is_flattened_on_white(storage):
    image = Image.new("RGBA", (500, 300), (0, 0, 0, 0))
    image.paste((0, 0, 255, 255), (200, 100, 300, 200))

    photo = store_photo(encode(image, "PNG"), storage)

    stored = open_stored(storage, photo, "large", "webp")
    assert all(channel > 245 for channel in stored.getpixel((10, 10)))
    red, green, blue = stored.getpixel((250, 150))
    assert blue > 200 and red < 40 and green < 40


def test_a_palette_png_with_transparency_is_accepted(storage):
    image = Image.new("P", (120, 80), 1)
    image.putpalette([0, 0, 0, 255, 0, 0])
    photo = store_photo(encode(image, "PNG", transparency=0), storage)

    assert open_stored(storage, photo, "large", "jpg").getpixel((5, 5))[0] > 200


def test_a_16_bit_greyscale_png_keeps_its_tones(storage):
    image = Image.new("I;16", (64, 64), 128 * 256)

    photo = store_photo(encode(image, "PNG"), storage)

    grey = open_stored(storage, photo, "large", "webp").getpixel((32, 32))
    assert all(120 <= channel <= 136 for channel in grey)


def test_a_multi_picture_jpeg_from_a_phone_is_accepted(storage):
    first, depth_map = picture((800, 600)), Image.new("RGB", (800, 600), "black")
    upload = encode(first, "MPO", save_all=True, append_images=[depth_map])
    assert Image.open(io.BytesIO(upload)).format == "MPO"

    photo = store_photo(upload, storage)

    assert (photo.width, photo.height) == (800, 600)


def test_the_type_comes_from_the_content_not_the_name(tmp_path, storage):
    image = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    disguised = tmp_path / "menu-photo.jpg"
    disguised.write_bytes(encode(image, "PNG"))

    with disguised.open("rb") as upload:
        photo = store_photo(upload, storage)

    # Decoded as the PNG it is: its transparency became white.
    assert open_stored(storage, photo, "large", "jpg").getpixel((100, 50)) == (255, 255, 255)
    assert "menu" not in " ".join(stored_files(storage))


def test_every_photo_gets_a_new_random_key(storage):
    upload = encode(picture((200, 150)), "JPEG")

    first, second = store_photo(upload, storage), store_photo(upload, storage)

    assert first.key != second.key
    for key in (first.key, second.key):
        assert len(key) >= 20
        assert set(key) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


# --- metadata and smuggled content -------------------------------------------------------------


def test_exif_orientation_is_applied_and_all_metadata_dropped(storage):
    image = Image.new("RGB", (1800, 1200), (128, 128, 128))
    image.paste((255, 0, 0), (0, 0, 200, 200))  # top-left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "S", 2: (6.0, 10.0, 30.5), 3: "E", 4: (106.0, 49.0, 12.25)})
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    upload = encode(
        image,
        "JPEG",
        exif=exif,
        icc_profile=icc,
        comment=b"kitchen at Jl. Kenari 12",
        xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>secret-xmp</x:xmpmeta>",
    )
    traces = (b"Exif", b"PhoneMaker", b"Kenari", b"secret-xmp", b"ICC_PROFILE")
    assert all(trace in upload for trace in traces)
    assert Image.open(io.BytesIO(upload)).getexif().get_ifd(0x8825)[1] == "S"

    photo = store_photo(upload, storage)

    assert (photo.width, photo.height) == (800, 1200)
    for size in SIZES:
        for fmt in ("webp", "jpg"):
            stored = open_stored(storage, photo, size, fmt)
            assert stored.height > stored.width
            assert len(stored.getexif()) == 0
            assert not {"exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment"} & set(
                stored.info
            )
            raw = (storage / photo.filename(size, fmt)).read_bytes()
            assert not [trace for trace in traces if trace in raw]
    # Stored top-left is displayed top-right after a quarter turn clockwise.
    upright = open_stored(storage, photo, "large", "jpg")
    red, green, blue = upright.getpixel((upright.width - 20, 20))
    assert red > 200 and green < 60 and blue < 60


def test_an_unusable_colour_profile_is_dropped_not_fatal(storage):
    upload = encode(picture((300, 200)), "JPEG", icc_profile=b"not a colour profile" * 10)

    photo = store_photo(upload, storage)

    assert "icc_profile" not in open_stored(storage, photo, "large", "jpg").info


@pytest.mark.parametrize(
    "trailer",
    [
        pytest.param("zip", id="zip"),
        pytest.param("html", id="html"),
    ],
)
def test_data_appended_to_a_jpeg_is_not_stored(trailer, storage):
    marker = b"APPENDED-PAYLOAD-7f3a"
    if trailer == "zip":
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zipped:
            zipped.writestr("shell.php", b"<?php echo 1; ?>" + marker)
        appended = archive.getvalue()
    else:
        appended = b"<html><script>alert(document.cookie)</script>" + marker + b"</html>"
    upload = encode(picture((640, 480)), "JPEG") + appended

    photo = store_photo(upload, storage)

    for name in stored_files(storage):
        raw = (storage / name).read_bytes()
        assert marker not in raw
        assert b"<script>" not in raw and b"PK\x03\x04" not in raw
    assert open_stored(storage, photo, "large", "jpg").size == (640, 480)


def test_html_hidden_in_a_png_text_chunk_is_not_stored(storage):
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "<script>alert(1)</script>")
    photo = store_photo(encode(picture((300, 200)), "PNG", pnginfo=text), storage)

    for name in photo.filenames():
        assert b"<script>" not in (storage / name).read_bytes()


# --- what is refused ---------------------------------------------------------------------------

SVG = b"""<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>"""
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
GIF_JS_POLYGLOT = b"GIF89a/*\x0a\x00\x0a\x00\x00\x00\x00*/=1;alert(document.domain);//" + bytes(64)


@pytest.mark.parametrize(
    "upload",
    [
        pytest.param(lambda: b"just some text, not a picture\n", id="text"),
        pytest.param(lambda: b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)>", id="html"),
        pytest.param(lambda: SVG, id="svg"),
        pytest.param(lambda: PDF, id="pdf"),
        pytest.param(lambda: encode(picture((40, 30)).convert("P"), "GIF"), id="gif"),
        pytest.param(lambda: GIF_JS_POLYGLOT, id="gif-javascript-polyglot"),
        pytest.param(lambda: encode(picture((40, 30)), "BMP"), id="bmp"),
        pytest.param(lambda: encode(picture((40, 30)), "TIFF"), id="tiff"),
        pytest.param(lambda: encode(picture((32, 32)), "ICO"), id="ico"),
    ],
)
def test_other_file_types_are_refused(upload, storage):
    error = refused(upload(), storage)

    assert error.problem is PhotoProblem.UNSUPPORTED_TYPE
    assert str(error.message) == "The file is not a JPEG, PNG or WebP image."


def test_an_empty_file_is_refused(storage):
    assert refused(b"", storage).problem is PhotoProblem.EMPTY


@pytest.mark.parametrize(
    "upload",
    [
        pytest.param(lambda: png_bomb(20_000, 20_000), id="png-400-megapixels"),
        pytest.param(lambda: png_bomb(10_000, 10_000), id="png-100-megapixels"),
        pytest.param(lambda: png_bomb(8_000, 7_000), id="png-56-megapixels"),
        pytest.param(lambda: jpeg_declaring(30_000, 30_000), id="jpeg-900-megapixels"),
        pytest.param(lambda: jpeg_declaring(9_000, 6_000), id="jpeg-54-megapixels"),
    ],
)
def test_decompression_bombs_are_refused_before_decoding(upload, storage, monkeypatch):
    data = upload()
    assert len(data) < 100_000
    decoded = []
    original_load = ImageFile.ImageFile.load

    def recording_load(self):
        decoded.append(self.size)
        return original_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recording_load)

    error = refused(data, storage)

    assert error.problem is PhotoProblem.TOO_MANY_PIXELS
    assert str(error.message) == "The image is too large to process (more than 50 megapixels)."
    assert decoded == []


def test_a_large_but_acceptable_png_is_stored(storage):
    photo = store_photo(png_bomb(6_000, 4_000), storage)  # 24 megapixels, all black

    assert (photo.width, photo.height) == (1200, 800)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_truncated_file_is_refused(fmt, storage):
    whole = encode(picture((800, 600)), fmt)

    error = refused(whole[: len(whole) // 2], storage)

    assert error.problem is PhotoProblem.DAMAGED
    assert str(error.message) == "The file is damaged or incomplete."


def test_a_png_with_a_corrupt_checksum_is_refused(storage):
    data = bytearray(encode(picture((200, 100)), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF

    assert refused(bytes(data), storage).problem is PhotoProblem.DAMAGED


def test_truncated_images_stay_refused_even_if_pillow_is_told_otherwise(storage, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)

    with pytest.raises(RuntimeError):
        store_photo(encode(picture((80, 60)), "JPEG"), storage)
    assert stored_files(storage) == []


def test_an_upload_over_10_mb_is_refused(storage):
    error = refused(b"\xff\xd8\xff\xe0" + bytes(MAX_UPLOAD_BYTES), storage)

    assert error.problem is PhotoProblem.TOO_LARGE
    assert str(error.message) == "The photo is larger than 10 MB."


class EndlessUpload(io.RawIOBase):
    """A stream that never ends, counting what is read from it."""

    def __init__(self) -> None:
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size = min(len(buffer), 64 * 1024)  # like a socket, return less than asked
        buffer[:size] = bytes(size)
        self.bytes_read += size
        return size


def test_an_oversized_stream_is_not_read_to_the_end(storage):
    upload = EndlessUpload()

    error = refused(upload, storage)

    assert error.problem is PhotoProblem.TOO_LARGE
    assert upload.bytes_read == MAX_UPLOAD_BYTES + 1


# --- files on disk -----------------------------------------------------------------------------


def test_nothing_is_left_behind_when_writing_fails(storage, monkeypatch):
    renames = []
    real_replace = os.replace

    def failing_replace(source, target):
        if len(renames) == 2:
            raise OSError(28, "No space left on device")
        renames.append(target)
        real_replace(source, target)

    monkeypatch.setattr(photos.os, "replace", failing_replace)

    with pytest.raises(OSError, match="No space left"):
        store_photo(encode(picture((300, 200)), "JPEG"), storage)
    assert stored_files(storage) == []


def test_photo_path_finds_a_stored_derivative(storage):
    photo = store_photo(encode(picture((300, 200)), "JPEG"), storage)

    for name in photo.filenames():
        assert photo_path(storage, name) == storage / name
    assert photo_path(storage, f"{'A' * 32}-large.webp") is None  # right form, no such file


def test_photo_path_refuses_anything_but_a_generated_name(storage, tmp_path):
    photo = store_photo(encode(picture((300, 200)), "JPEG"), storage)
    name = photo.filename("large", "jpg")
    (tmp_path / "secret.txt").write_text("secret")
    (storage / "notes.txt").write_text("not a photo")

    tricks = [
        "",
        "../secret.txt",
        f"../photos/{name}",
        f"./{name}",
        f"/{name}",
        str(storage / name),
        "/etc/passwd",
        f"..\\{name}",
        f"sub\\{name}",
        f"{name}\x00",
        f"{name}\x00.png",
        f"{name}\n",
        f" {name}",
        f"%2e%2e%2f{name}",
        f"..%2F{name}",
        f"{photo.key}%2Dlarge.jpg",
        f"{photo.key}-large.JPG",
        f"{photo.key}-large.jpeg",
        f"{photo.key}-original.jpg",
        f"{photo.key}-large.jpg.tmp",
        f"{photo.key}-large.webp/",
        "notes.txt",
        "short-large.jpg",
        f"{'A' * 65}-large.jpg",
        f"{photo.key[:-1]}\uff21-large.jpg",  # full-width letter
        ".upload-x.tmp",
    ]
    for trick in tricks:
        assert photo_path(storage, trick) is None, trick
    assert photo_path(storage, name.encode()) is None  # type: ignore[arg-type]


def test_delete_photo_removes_every_derivative(storage):
    kept = store_photo(encode(picture((300, 200)), "JPEG"), storage)
    photo = store_photo(encode(picture((300, 200)), "PNG"), storage)

    delete_photo(photo.key, storage)

    assert stored_files(storage) == sorted(kept.filenames())
    delete_photo(photo.key, storage)  # already gone: nothing to do


@pytest.mark.parametrize("key", ["", "../../etc", "a/b" * 10, "x" * 19, "*" * 32])
def test_delete_photo_refuses_a_key_that_is_not_one_of_ours(key, storage):
    with pytest.raises(ValueError):
        delete_photo(key, storage)


def test_stored_photo_names_its_files():
    photo = StoredPhoto(key="k" * 32, width=1200, height=900)

    assert photo.filename("thumb", "webp") == "k" * 32 + "-thumb.webp"
    assert len(photo.filenames()) == 4
    with pytest.raises(ValueError):
        photo.filename("huge", "jpg")
    with pytest.raises(ValueError):
        photo.filename("large", "png")
    with pytest.raises(ValueError):
        StoredPhoto(key="../x", width=1, height=1)
