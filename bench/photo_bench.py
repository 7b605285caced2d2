"""Photo benchmark: a 12-megapixel phone photo through the catalogue's upload pipeline.

Generates a 4000 x 3000 JPEG (fixed seed) that looks like a phone photo to the pipeline: a
textured picture of about 4 MB with EXIF (camera, orientation "rotate 90", GPS position) and an
sRGB ICC profile. Each run stores it with `catalog.photos.store_photo` (decode at reduced
scale, rotate upright, strip metadata, re-encode 1200 px and 400 px copies as WebP and JPEG)
in a fresh Python process, and reports the wall time and CPU time of the call, the process's
peak resident memory (VmHWM, which sees Pillow's pixel buffers) and its increase over the same
process just before the call, and the peak of Python allocations (tracemalloc, which does not).

    .venv/bin/python bench/photo_bench.py [--runs 5]

Goal (issue 10): under 1 s and 200 MiB peak for a 12-megapixel upload.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE = (4000, 3000)
GOAL_SECONDS = 1.0
GOAL_MIB = 200

CHILD = r"""
import json, sys, tempfile, time, tracemalloc
from pathlib import Path
def high_water_kib():  # VmHWM: this process's peak RSS (ru_maxrss would keep the parent's)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
sys.path.insert(0, sys.argv[1])
from catalog.photos import store_photo
raw = Path(sys.argv[2]).read_bytes()
before = high_water_kib()
tracemalloc.start()
with tempfile.TemporaryDirectory() as out:
    started, cpu = time.perf_counter(), time.process_time()
    stored = store_photo(raw, Path(out))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    files = sorted(p.name.rsplit("-", 1)[1] for p in Path(out).iterdir())
_, traced = tracemalloc.get_traced_memory()
peak = high_water_kib()
print(json.dumps({"seconds": elapsed, "cpu": cpu, "peak_kib": peak, "before_kib": before,
                  "traced_peak": traced, "size": [stored.width, stored.height], "files": files}))
"""


def make_photo() -> bytes:
    """A 12 MP JPEG with EXIF and an ICC profile, the same bytes every time."""
    from PIL import Image, ImageCms, ImageFilter

    width, height = SIZE
    # Smooth gradients (sky, table) plus fine noise (food, cloth): compresses like a photo.
    red = Image.linear_gradient("L").resize(SIZE)
    green = Image.radial_gradient("L").resize(SIZE)
    blue = Image.linear_gradient("L").rotate(90).resize(SIZE)
    base = Image.merge("RGB", (red, green, blue))
    noise = Image.effect_noise((width // 2, height // 2), 40).resize(SIZE).convert("RGB")
    picture = Image.blend(base, noise, 0.35).filter(ImageFilter.SMOOTH)
    exif = Image.Exif()
    exif[0x010F] = "Samsung"  # Make
    exif[0x0110] = "Galaxy A54"  # Model
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to view
    exif[0x0132] = "2026:11:30 11:42:07"  # DateTime
    exif[0x8825] = {1: "S", 2: (6.0, 11.0, 15.0), 3: "E", 4: (106.0, 49.0, 30.0)}  # GPS
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=90, exif=exif.tobytes(), icc_profile=icc)
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from catalog.photos import MAX_UPLOAD_BYTES

    raw = make_photo()
    if len(raw) > MAX_UPLOAD_BYTES:
        raise SystemExit(f"the generated photo ({len(raw):,} bytes) exceeds the upload limit")
    results = []
    with tempfile.NamedTemporaryFile(suffix=".jpg") as photo:
        photo.write(raw)
        photo.flush()
        for _ in range(args.runs):
            done = subprocess.run(  # noqa: S603
                [sys.executable, "-c", CHILD, str(ROOT), photo.name],
                check=True,
                capture_output=True,
                text=True,
            )
            results.append(json.loads(done.stdout))
    seconds = [r["seconds"] for r in results]
    cpu = [r["cpu"] for r in results]
    peaks = [r["peak_kib"] / 1024 for r in results]
    growth = [(r["peak_kib"] - r["before_kib"]) / 1024 for r in results]
    traced = [r["traced_peak"] / 2**20 for r in results]
    first = results[0]
    print(
        f"{SIZE[0]} x {SIZE[1]} JPEG, {len(raw) / 2**20:.1f} MiB with EXIF (orientation 6, GPS)"
        f" and an sRGB profile; stored as {first['size'][0]} x {first['size'][1]}:"
        f" {', '.join(first['files'])}"
    )
    print(f"{args.runs} runs, each in a fresh process:")
    print(
        f"  time:        median {statistics.median(seconds):.3f} s, max {max(seconds):.3f} s"
        f"  (goal < {GOAL_SECONDS:g} s)"
    )
    print(
        f"  CPU time:    median {statistics.median(cpu):.3f} s, max {max(cpu):.3f} s"
        " (what the wall time would be on an idle core)"
    )
    print(
        f"  peak RSS:    median {statistics.median(peaks):.0f} MiB, max {max(peaks):.0f} MiB"
        f" (of which the call added {statistics.median(growth):.0f} MiB;"
        f" Python allocations peaked at {statistics.median(traced):.1f} MiB)"
        f"  (goal < {GOAL_MIB} MiB)"
    )
    ok = max(seconds) < GOAL_SECONDS and max(peaks) < GOAL_MIB
    print(f"goal (issue 10): under 1 s and 200 MiB: {'PASS' if ok else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
