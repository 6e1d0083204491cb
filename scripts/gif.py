"""Make the README's animated GIF (and a still strip) from a rendered MP4.

    .venv/bin/python scripts/gif.py out.mp4 docs/img/render.gif \\
        --width 320 --fps 12 --strip docs/img/render-strip.png

Frames are resampled to ``--fps`` by time, scaled to ``--width`` and quantised to one shared
256-colour palette (so the face does not flicker between frames). The strip shows five frames
spread over the speech (the idle 0.3 s at either end left out), side by side.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import av
from PIL import Image


def read_frames(path: Path) -> tuple[list[Image.Image], float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 25)
        frames = [f.to_image() for f in container.decode(stream)]
    return frames, fps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("video", type=Path, help="the MP4 to convert")
    parser.add_argument("gif", type=Path, help="the GIF to write")
    parser.add_argument("--width", type=int, default=320, help="GIF width in pixels")
    parser.add_argument("--fps", type=float, default=12.0, help="GIF frame rate")
    parser.add_argument("--strip", type=Path, help="also write a PNG of 5 frames side by side")
    parser.add_argument("--strip-width", type=int, default=200, help="width of each strip frame")
    args = parser.parse_args()

    frames, fps = read_frames(args.video)
    count = max(1, round(len(frames) / fps * args.fps))
    picked = [frames[min(len(frames) - 1, round(i * fps / args.fps))] for i in range(count)]
    height = round(picked[0].height * args.width / picked[0].width)
    small = [f.resize((args.width, height), Image.Resampling.LANCZOS) for f in picked]
    # One palette for every frame, from a mosaic of a few of them.
    sample = Image.new("RGB", (args.width * 4, height))
    for i, f in enumerate(small[:: max(1, len(small) // 4)][:4]):
        sample.paste(f, (i * args.width, 0))
    palette = sample.quantize(256, method=Image.Quantize.MEDIANCUT)
    gif = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in small]
    # GIF delays are in centiseconds: alternate them so the average rate is exact.
    ticks = [round(i * 100 / args.fps) for i in range(count + 1)]
    durations = [10 * (b - a) for a, b in zip(ticks, ticks[1:], strict=False)]
    gif[0].save(
        args.gif,
        save_all=True,
        append_images=gif[1:],
        duration=durations,
        loop=0,
        optimize=True,
        disposal=1,
    )
    size = args.gif.stat().st_size
    sys.stdout.write(f"{args.gif}: {count} frames, {args.width}x{height}, {size} bytes\n")

    if args.strip:
        n, idle = 5, round(0.3 * fps)  # five frames spread over the speech
        idx = [idle + round((len(frames) - 2 * idle) * (i + 0.5) / n) for i in range(n)]
        w = args.strip_width
        h = round(frames[0].height * w / frames[0].width)
        strip = Image.new("RGB", (w * n, h), "white")
        for i, k in enumerate(idx):
            strip.paste(frames[k].resize((w, h), Image.Resampling.LANCZOS), (i * w, 0))
        strip.save(args.strip, optimize=True)
        sys.stdout.write(f"{args.strip}: frames {idx} of {len(frames)}, {w * n}x{h}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
