#!/usr/bin/env python3
# Per-stage CPU time per image of the loader, from a perf profile of `forensight bench data`:
#   perf record -F 499 --call-graph dwarf,32768 -o perf.data \
#       build/forensight bench data --images 256 --min-seconds 2 --no-python --max-workers 1
#   perf script --no-inline -i perf.data -F tid,time,ip,sym > perf.txt
#   scripts/perf_data_stages.py perf.txt 499 --rates 313.8,289.3
# Each "ours" measurement (one per worker count, in order) is the span of samples that decode files
# inside build_batch; every sample in that span is charged to the first stage found on its stack.
# --rates gives the bench's ours img/s per worker count, to turn samples into ms per image.
import argparse
import collections
import re

STAGES = [  # (name, frame substring), first match wins
    ("normalise", "normalize_batch"),
    ("file read", "read_file_bytes"),
    ("decode", "decode_image_file"),
    ("resize", "resize_bilinear_antialias"),
    ("transform, other", "apply_transform"),
    ("HWC->CHW copy", "load_sample"),  # copy_hwc_to_chw is inlined into load_sample
    ("batch tensor, other", "build_batch"),
    ("queue / hand-off", "DataLoader::next"),
    ("queue / hand-off", "worker_loop"),
]


def read_samples(path):
    samples, current = [], None
    for line in open(path):
        m = re.match(r"^\s*(\d+)\s+([\d.]+):", line)
        if m:
            current = (int(m.group(1)), float(m.group(2)), [])
            samples.append(current)
        elif line.strip() and current is not None:
            parts = line.split(None, 1)
            current[2].append(parts[1].strip() if len(parts) > 1 else "")
    return samples


def stage(stack):
    for name, key in STAGES:
        if any(key in frame for frame in stack):
            return name
    # Frames perf could not name sit under libjpeg-turbo in practice; keep them apart anyway.
    return "other (unresolved frames, kernel)"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("script_output")
    parser.add_argument("frequency_hz", type=float)
    parser.add_argument("--rates", default="", help="ours img/s per worker count, comma-separated")
    args = parser.parse_args()
    samples = read_samples(args.script_output)
    rates = [float(r) for r in args.rates.split(",") if r]
    decode_times = sorted(
        t for _, t, stack in samples
        if any("decode_image_file" in f for f in stack) and any("build_batch" in f for f in stack))
    spans = []
    for t in decode_times:
        if spans and t - spans[-1][1] < 0.5:
            spans[-1][1] = t
        else:
            spans.append([t, t])
    spans = [s for s in spans if s[1] - s[0] > 0.5]  # drop the correctness checks before timing
    ms_per_sample = 1000.0 / args.frequency_hz
    for workers, (begin, end) in enumerate(spans):
        counts = collections.Counter()
        threads = collections.Counter()
        for tid, t, stack in samples:
            if begin <= t <= end:
                counts[stage(stack)] += 1
                threads[tid] += 1
        images = rates[workers] * (end - begin) if workers < len(rates) else None
        print(f"workers {workers}: {end - begin:.2f} s, samples per thread {dict(threads)}")
        for name, n in counts.most_common():
            per_image = f"{n * ms_per_sample / images:6.3f} ms/image" if images else ""
            print(f"  {name:36s} {n:6d} samples  {100 * n / sum(counts.values()):5.1f}%  {per_image}")


if __name__ == "__main__":
    main()
