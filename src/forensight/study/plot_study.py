#!/usr/bin/env python3
"""The seed study's graphs from a `forensight study` results file, Forensight beside Python.

    plot_study.py --results DIR/results.json --out DIR/plots

Reads the results.json that `forensight study` writes (machine, baseline settings and one entry per
cell, each run by "forensight" or by the seed's "python" original) and draws, as PNG files:

  threads_speedup.png  intra-op threads vs speedup (ResNet18, then ViT), ideal-linear dashed line
  workers_speedup.png  data-loader workers vs speedup (ViT, then ResNet18)
  ranks_speedup.png    DDP ranks vs speedup (ViT, then ResNet18), ideal-linear dashed line
  amp_time.png         epoch time per AMP mode, grouped by model x engine, % change vs off
  placement.png        epoch time and peak memory per placement (one / naive / pipeline)
  model_scaling.png    ResNet18 vs ViT speedup over ranks and threads (Forensight solid,
                       Python dashed)
  images_per_s.png     images/s of every ok cell, Forensight vs Python, with their ratio

Baseline cells count as a point of every axis at the baseline's value; failed cells are left out; a
figure with nothing to draw is skipped (noted on stderr). The last stdout line is JSON:
{"plots": [paths written]}. A missing or malformed results file exits 1, naming the missing key.
"""
import argparse
import json
import os
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DPI = 110
ENGINES = {"forensight": ("Forensight (C++)", "tab:blue", "-", "o"),
           "python": ("Python original (PyTorch)", "tab:orange", "--", "s")}
MODELS = {"resnet18": ("ResNet18", "tab:green"), "vit": ("ViT", "tab:purple")}
AMP_MODES = {"off": "tab:gray", "bf16": "tab:blue", "fp16": "tab:red"}
PLACEMENTS = {"one": "tab:gray", "naive": "tab:orange", "pipeline": "tab:green"}
TOP_KEYS = {"study": str, "machine": dict, "baseline": dict, "cells": list}
MACHINE_KEYS = ("cpu", "cores", "gpu")
BASELINE_KEYS = ("threads", "workers", "ranks", "amp", "placement")
CELL_KEYS = ("id", "engine", "model", "axis", "status") + BASELINE_KEYS
OK_CELL_KEYS = ("epoch_s", "images_per_s", "speedup", "peak_rss_mb")


def fail(message):
    sys.exit(f"plot_study.py: {message}")


def skip(name, why):
    print(f"plot_study.py: skipped {name}: {why}", file=sys.stderr)


def load(path):
    if not os.path.isfile(path):
        fail(f"results file not found: {path}")
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read {path} as JSON: {e}")
    if not isinstance(data, dict):
        fail(f"{path}: top level is not a JSON object")
    for key, kind in TOP_KEYS.items():
        if key not in data:
            fail(f"{path}: missing key '{key}'")
        if not isinstance(data[key], kind):
            fail(f"{path}: '{key}' should be a {kind.__name__}")
    for group, keys in (("machine", MACHINE_KEYS), ("baseline", BASELINE_KEYS)):
        for key in keys:
            if key not in data[group]:
                fail(f"{path}: missing key '{group}.{key}'")
    for i, cell in enumerate(data["cells"]):
        if not isinstance(cell, dict):
            fail(f"{path}: cells[{i}] is not an object")
        ok = cell.get("status") == "ok"
        for key in CELL_KEYS + (OK_CELL_KEYS if ok else ()):
            if key not in cell:
                fail(f"{path}: missing key 'cells[{i}].{key}' (cell {cell.get('id', '?')})")
        for key in OK_CELL_KEYS + ("peak_gpu_mb",):
            value, needed = cell.get(key), key in ("epoch_s", "images_per_s")
            if ok and (value is not None or needed) and not isinstance(value, (int, float)):
                fail(f"{path}: 'cells[{i}].{key}' should be a number{'' if needed else ' or null'}")
    return data


def ordered(values, preferred):
    """The values present, those named in `preferred` first and in its order."""
    present = list(dict.fromkeys(values))
    return [v for v in preferred if v in present] + [v for v in present if v not in preferred]


def model_title(cells, model):
    names = {c.get("model_name") for c in cells if c["model"] == model} - {None, "", model}
    label = MODELS.get(model, (model, None))[0]
    return f"{label} ({', '.join(sorted(names))})" if names else label


def subtitle(data):
    m = data["machine"]
    cpu = m["cpu"] if "cores" in m["cpu"] else f"{m['cpu']}, {m['cores']} cores"
    return f"'{data['study']}' study  |  CPU: {cpu}  |  GPU: {m['gpu'] or 'none'}"


def new_figure(data, title, ncols=1, width=6.4, height=4.8):
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    fig.suptitle(title, fontsize=14, fontweight="bold", y=1 - 0.08 / height, va="top")
    # The CPU's flags make a long line: wrap it to the figure's width (about 13 characters of
    # 9-point text per inch) rather than let a narrow figure cut it off.
    lines = textwrap.wrap(subtitle(data), width=int(13 * width * ncols))
    fig.text(0.5, 1 - 0.4 / height, "\n".join(lines), ha="center", va="top", fontsize=9,
             color="dimgray")
    # tight_layout keeps the axes below the title and the subtitle's lines
    fig.header_top = 1 - (0.58 + 0.16 * (len(lines) - 1)) / height
    return fig, list(axes[0])


def save(fig, out_dir, name, written):
    fig.tight_layout(rect=(0, 0, 1, fig.header_top))
    path = os.path.join(out_dir, name)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    written.append(path)


def axis_points(ok, axis, model, engine):
    """[(setting, cell)] of one model and engine along an axis, baseline included, sorted."""
    cells = [c for c in ok if c["model"] == model and c["engine"] == engine
             and c["axis"] in ("baseline", axis)]
    return sorted(((c[axis], c) for c in cells), key=lambda p: p[0])


def has_axis(ok, axis, model=None):
    """Whether any cell off the baseline along `axis` has a speedup to draw."""
    return any(c["axis"] == axis and c["speedup"] is not None
               and (model is None or c["model"] == model) for c in ok)


def ideal_label(base):
    return "ideal linear" if base == 1 else f"ideal linear (x / {base})"


def speedup_lines(ax, ok, axis, model, engines, ideal, base, color=None, label_model=False):
    drawn = []
    for engine in engines:
        pts = [(x, c["speedup"]) for x, c in axis_points(ok, axis, model, engine)
               if c["speedup"] is not None]
        if not pts:
            continue
        label, ecolor, style, marker = ENGINES.get(engine, (engine, None, ":", "^"))
        if label_model:
            label = f"{MODELS.get(model, (model,))[0]}, {label.split(' (')[0]}"
        ax.plot(*zip(*pts), linestyle=style, marker=marker, color=color or ecolor, label=label,
                lw=2)
        drawn.extend(x for x, _ in pts)
    if not drawn:
        return False
    xs = sorted(set(drawn))
    ax.set_xticks(xs)
    if ideal and base:
        ax.plot(xs, [x / base for x in xs], "k:", lw=1, label=ideal_label(base))
    ax.axhline(1.0, color="lightgray", lw=1, zorder=0)
    ax.set_ylabel("speedup over baseline (images/s ratio)")
    ax.grid(alpha=0.3)
    return True


def speedup_figure(data, ok, out, written, axis, model_order, name, title, xlabel, ideal):
    models = [m for m in ordered([c["model"] for c in ok], model_order) if has_axis(ok, axis, m)]
    if not models:
        return skip(name, f"no '{axis}' cells with a speedup")
    engines = ordered([c["engine"] for c in ok], list(ENGINES))
    fig, axes = new_figure(data, title, ncols=len(models))
    for ax, model in zip(axes, models):
        speedup_lines(ax, ok, axis, model, engines, ideal, data["baseline"][axis])
        ax.set_title(model_title(ok, model))
        ax.set_xlabel(xlabel)
        ax.legend(fontsize=9)
    save(fig, out, name, written)


def grouped_bars(ax, groups, series, colors, value, annotate=None):
    """groups: [(label, {series: cell})]; one bar per series in each group."""
    width = 0.8 / len(series)
    for j, s in enumerate(series):
        xs = [i + (j - (len(series) - 1) / 2) * width for i in range(len(groups))]
        labelled = False
        for x, (_, cells) in zip(xs, groups):
            if s in cells and value(cells[s]) is not None:
                bar = ax.bar(x, value(cells[s]), width, color=colors.get(s, "tab:cyan"),
                             label=None if labelled else s)
                labelled = True
                if annotate:
                    ax.annotate(annotate(s, cells), (x, bar[0].get_height()), ha="center",
                                va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([g for g, _ in groups], fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    ax.margins(y=0.3)  # room for the annotations and a one-row legend above the bars


def setting_groups(ok, axis, settings):
    """[(group label, {setting: cell})] per model x engine that has a cell off the baseline."""
    groups = []
    for model in ordered([c["model"] for c in ok], list(MODELS)):
        for engine in ordered([c["engine"] for c in ok], list(ENGINES)):
            pts = dict(axis_points(ok, axis, model, engine))
            if any(c["axis"] == axis for c in pts.values()):
                label = f"{MODELS.get(model, (model,))[0]}\n{ENGINES.get(engine, (engine,))[0]}"
                groups.append((label, pts))
    return groups, ordered([s for _, g in groups for s in g], settings)


def amp_figure(data, ok, out, written):
    groups, modes = setting_groups(ok, "amp", list(AMP_MODES))
    if not groups:
        return skip("amp_time.png", "no 'amp' cells")

    def change(mode, cells):
        if mode == "off" or "off" not in cells:
            return f"{cells[mode]['epoch_s']:.1f}s"
        pct = 100 * (cells[mode]["epoch_s"] / cells["off"]["epoch_s"] - 1)
        return f"{cells[mode]['epoch_s']:.1f}s\n{pct:+.0f}%"

    fig, (ax,) = new_figure(data, "Mixed precision (AMP): epoch time",
                            width=max(6.4, 2.2 * len(groups)))
    grouped_bars(ax, groups, modes, AMP_MODES, lambda c: c["epoch_s"], change)
    ax.set_ylabel("epoch time (s)")
    ax.legend(title="AMP mode", fontsize=9, ncols=len(modes), loc="upper left")
    save(fig, out, "amp_time.png", written)


def ranks_label(data):
    # A rank is a GPU on a GPU machine and a CPU process otherwise: say which the plot shows.
    return "DDP ranks (GPUs)" if data["machine"].get("gpus") else "DDP ranks (CPU processes)"


def placement_figure(data, ok, out, written):
    groups, places = setting_groups(ok, "placement", list(PLACEMENTS))
    if not groups:
        return skip("placement.png", "no 'placement' cells")
    cells = [c for _, g in groups for c in g.values()]
    gpu = all(c.get("peak_gpu_mb") is not None for c in cells)
    mem_key, mem_label = (("peak_gpu_mb", "peak GPU memory (MB)") if gpu
                          else ("peak_rss_mb", "peak RSS (MB)"))
    fig, axes = new_figure(data, "Model placement: time and memory", ncols=2,
                           width=max(6.4, 1.8 * len(groups)))
    grouped_bars(axes[0], groups, places, PLACEMENTS, lambda c: c["epoch_s"],
                 lambda p, g: f"{g[p]['epoch_s']:.1f}")
    axes[0].set(title="epoch time", ylabel="epoch time (s)")
    grouped_bars(axes[1], groups, places, PLACEMENTS, lambda c: c[mem_key],
                 lambda p, g: f"{g[p][mem_key]:.0f}")
    axes[1].set(title=mem_label.split(" (")[0], ylabel=mem_label)
    for ax in axes:
        ax.legend(title="placement", fontsize=9, ncols=len(places), loc="upper left")
    save(fig, out, "placement.png", written)


def scaling_figure(data, ok, out, written):
    axes_present = [a for a in ("ranks", "threads") if has_axis(ok, a)]
    if not axes_present:
        return skip("model_scaling.png", "no 'ranks' or 'threads' speedups")
    models = ordered([c["model"] for c in ok], list(MODELS))
    engines = ordered([c["engine"] for c in ok], list(ENGINES))
    fig, axes = new_figure(data, "ResNet18 vs ViT: scaling", ncols=len(axes_present))
    for ax, axis in zip(axes, axes_present):
        for model in models:
            if has_axis(ok, axis, model):
                speedup_lines(ax, ok, axis, model, engines, False, None,
                              color=MODELS.get(model, (model, None))[1], label_model=True)
        base = data["baseline"][axis]
        xs = sorted({x for m in models for e in engines for x, _ in axis_points(ok, axis, m, e)})
        ax.plot(xs, [x / base for x in xs], "k:", lw=1, label=ideal_label(base))
        ax.set_title({"ranks": "over DDP ranks", "threads": "over intra-op threads"}[axis])
        ax.set_xlabel({"ranks": ranks_label(data), "threads": "intra-op threads"}[axis])
        ax.legend(fontsize=8)
    save(fig, out, "model_scaling.png", written)


def throughput_figure(data, ok, out, written):
    rows, failed = {}, {}  # id without the engine -> {engine: cell}, in the file's order
    for c in data["cells"]:
        parts = c["id"].split("/")
        key = "/".join(parts[:-1]) if len(parts) > 1 and parts[-1] == c["engine"] else c["id"]
        (rows if c["status"] == "ok" else failed).setdefault(key, {})[c["engine"]] = c
    if not rows:
        return skip("images_per_s.png", "no ok cells")
    engines = ordered([c["engine"] for c in ok], list(ENGINES))
    fig, (ax,) = new_figure(data, "Throughput of every cell", width=9,
                            height=max(3.5, 1.6 + len(rows) * (0.1 + 0.15 * len(engines))))
    h = 0.8 / len(engines)
    labels = list(rows)[::-1]  # first cell at the top
    for j, engine in enumerate(engines):
        name, color = ENGINES.get(engine, (engine, "tab:gray"))[:2]
        ys = [i + ((len(engines) - 1) / 2 - j) * h for i in range(len(labels))]
        vals = [rows[k][engine]["images_per_s"] if engine in rows[k] else 0 for k in labels]
        ax.barh(ys, vals, h, color=color, label=name)
    top = max(c["images_per_s"] for c in ok)
    for i, key in enumerate(labels):
        f, p = rows[key].get("forensight"), rows[key].get("python")
        if f and p and p["images_per_s"]:
            note = f"{f['images_per_s'] / p['images_per_s']:.2f}x"
        elif len(engines) > 1 and (f or p):
            missing = "python" if f else "forensight"
            note = f"({missing} {'failed' if missing in failed.get(key, {}) else 'not run'})"
        else:
            continue
        right = max(c["images_per_s"] for c in rows[key].values())
        ax.text(right + 0.01 * top, i, note, va="center", fontsize=8,
                fontweight="bold" if note.endswith("x") else "normal")
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlim(0, top * 1.18)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.set_xlabel("images / s (higher is better)"
                  + ("; the label is Forensight / Python" if len(engines) > 1 else ""))
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=9, loc="best")
    save(fig, out, "images_per_s.png", written)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", required=True, help="DIR/results.json of `forensight study`")
    parser.add_argument("--out", required=True, help="folder for the PNG files (created)")
    args = parser.parse_args()
    data = load(args.results)
    ok = [c for c in data["cells"] if c["status"] == "ok"]
    os.makedirs(args.out, exist_ok=True)
    written = []
    for axis, models, title, xlabel, ideal in (
            ("threads", ["resnet18", "vit"], "CPU threads", "intra-op threads", True),
            ("workers", ["vit", "resnet18"], "Data-loader workers", "loader workers", False),
            ("ranks", ["vit", "resnet18"],
             "GPU count (DDP ranks)" if data["machine"].get("gpus") else "DDP ranks on the CPU",
             ranks_label(data), True)):
        speedup_figure(data, ok, args.out, written, axis, models, f"{axis}_speedup.png",
                       f"{title} vs training speedup", xlabel, ideal)
    amp_figure(data, ok, args.out, written)
    placement_figure(data, ok, args.out, written)
    scaling_figure(data, ok, args.out, written)
    throughput_figure(data, ok, args.out, written)
    print(json.dumps({"plots": written}))


if __name__ == "__main__":
    main()
