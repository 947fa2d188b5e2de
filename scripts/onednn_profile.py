#!/usr/bin/env python3
"""Where a CPU training step spends its time inside oneDNN, from a verbose log of `forensight train`.

    ONEDNN_VERBOSE=1 build/forensight train --config cfg.json > run.log 2>&1   # log-every-steps 1
    scripts/onednn_profile.py run.log [--skip 1] [--top 25]

The log holds one `onednn_verbose,...,exec,...` line per primitive run, interleaved with the
trainer's `step N/M` lines; the steps after the first `--skip` ones are averaged. Prints, per step,
the milliseconds of each (primitive, pass, shape) and, for convolutions, the GFLOPS they ran at,
then the total per pass.
"""
import argparse
import collections
import re
import sys

STEP = re.compile(r"\bstep (\d+)/\d+")
CONV = re.compile(r"mb(\d+)_ic(\d+)oc(\d+)_ih\d+oh(\d+)kh(\d+)\D.*?_iw\d+ow(\d+)kw(\d+)")


def conv_gflop(desc):
    """Multiply-adds x 2 of one convolution pass, from oneDNN's problem descriptor."""
    m = CONV.search(desc)
    if not m:
        return None
    mb, ic, oc, oh, kh, ow, kw = map(int, m.groups())
    return 2.0 * mb * ic * oc * oh * ow * kh * kw / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("log")
    ap.add_argument("--skip", type=int, default=1, help="leading steps to leave out (warm-up)")
    ap.add_argument("--top", type=int, default=25, help="rows to print")
    a = ap.parse_args()

    step = 0
    per_key = collections.defaultdict(float)
    runs = collections.Counter()
    kept_steps = set()
    with open(a.log, errors="replace") as f:
        for line in f:
            if line.startswith("onednn_verbose") and ",exec," in line:
                if step < a.skip:
                    continue
                fields = line.rstrip("\n").split(",")
                i = fields.index("exec")
                primitive, impl, kind = fields[i + 2], fields[i + 3], fields[i + 4]
                desc = fields[-2]
                per_key[(primitive, kind, impl, desc)] += float(fields[-1])
                runs[(primitive, kind, impl, desc)] += 1
                kept_steps.add(step)
            else:
                m = STEP.search(line)
                if m:
                    step = int(m.group(1))  # lines after "step N/M" belong to step N+1
    if not per_key:
        sys.exit(f"{a.log}: no oneDNN exec lines after step {a.skip} (was ONEDNN_VERBOSE=1 set?)")
    steps = len(kept_steps)
    print(f"{steps} step(s) averaged, the first {a.skip} left out\n")
    print(f"{'ms/step':>8}  {'GFLOPS':>6}  {'primitive':12} {'pass':18} {'implementation':22} shape")
    per_pass = collections.defaultdict(float)
    for (primitive, kind, impl, desc), ms in per_key.items():
        per_pass[(primitive, kind)] += ms / steps
    for key, ms in sorted(per_key.items(), key=lambda kv: -kv[1])[: a.top]:
        primitive, kind, impl, desc = key
        ms /= steps
        # ResNet18 runs some shapes several times a step: the rate counts every run.
        gflop = conv_gflop(desc) if primitive == "convolution" else None
        rate = f"{gflop * runs[key] / steps / ms * 1e3:6.0f}" if gflop else ""
        print(f"{ms:8.1f}  {rate:>6}  {primitive:12} {kind:18} {impl:22} {desc[:72]}")
    print("\nper step, by pass:")
    for (primitive, kind), ms in sorted(per_pass.items(), key=lambda kv: -kv[1]):
        print(f"{ms:8.1f} ms  {primitive} {kind}")
    print(f"{sum(per_pass.values()):8.1f} ms  in oneDNN")


if __name__ == "__main__":
    main()
