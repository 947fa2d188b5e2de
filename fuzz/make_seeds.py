#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (fuzz/corpus/<target>/) that need no Forensight code: small
valid images in every format and mode the decoders take, CSV manifests, configs, safetensors and
torch.save files (from the libraries that define them). The split,
decoded-cache and checkpoint seeds come from Forensight's own writers (fuzz/make_seeds.cpp).
Every seed stays under 4 KiB. Run with the bootstrap's Python (it has Pillow):
    ~/.cache/forensight/venv-torch-2.11.0/bin/python fuzz/make_seeds.py
"""
import io
import pathlib
import random

import torch
from PIL import Image
from safetensors.torch import save as safetensors_bytes

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"


def write(target: str, name: str, data: bytes) -> None:
    assert len(data) < 4096, f"{target}/{name}: {len(data)} bytes, seeds stay under 4 KiB"
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def image(mode: str, size=(16, 12)) -> Image.Image:
    rng = random.Random(7)
    im = Image.new("RGB", size)
    im.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256))
                for _ in range(size[0] * size[1])])
    return im.convert(mode)


def encoded(im: Image.Image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **kw)
    return out.getvalue()


def images() -> dict:
    seeds = {
        "rgb.jpg": encoded(image("RGB"), "JPEG", quality=90),
        "rgb420.jpg": encoded(image("RGB", (33, 17)), "JPEG", quality=50, subsampling=2),
        "progressive.jpg": encoded(image("RGB"), "JPEG", progressive=True),
        "gray.jpg": encoded(image("L"), "JPEG"),
        "cmyk.jpg": encoded(image("CMYK"), "JPEG"),
        "large-scaled.jpg": encoded(Image.new("RGB", (256, 192), (90, 120, 200)), "JPEG",
                                    quality=20),
        "rgb.png": encoded(image("RGB"), "PNG"),
        "rgba.png": encoded(image("RGBA"), "PNG"),
        "gray.png": encoded(image("L"), "PNG"),
        "gray-alpha.png": encoded(image("LA"), "PNG"),
        "palette.png": encoded(image("P"), "PNG"),
        "bilevel.png": encoded(image("1"), "PNG"),
        "interlaced.png": encoded(image("RGB"), "PNG", interlace=1),
        "gray16.png": encoded(image("I;16"), "PNG"),
        "lossy.webp": encoded(image("RGB"), "WEBP", quality=60),
        "lossless.webp": encoded(image("RGB"), "WEBP", lossless=True),
        "alpha.webp": encoded(image("RGBA"), "WEBP"),
    }
    return seeds


CSV_SEEDS = {
    "kaggle-train.csv": b",file_name,label\n0,train_data/a.jpg,1\n1,train_data/b.jpg,0\n",
    "kaggle-test.csv": b"id\ntest_data_v2/x.jpg\ntest_data_v2/y.png\n",
    "groups.csv": b"file_name,label,group,source\nimg/1.png,0,g1,camera\nimg/2.png,1,g1,sdxl\n",
    "quoted.csv": b'\xef\xbb\xbf"file_name","label"\r\n"a, b.jpg",ai\r\n"line\nbreak ""q"".png",real\r\n',
    "labels.csv": b"file_name,label\n/abs/1.jpg,fake\n2.jpg,human\n3.jpg,0_real\n\n",
}

CONFIG_SEEDS = {
    "train.yaml": b"epochs: 3\nseed: 42\nlr: 0.01\namp: true\nmodel: resnet50\n"
                  b"data: data/train.csv\nlr_milestones: [1, 2]\nnormalize-mean: [0.485, 0.456, 0.406]\n",
    "train.json": b'{"epochs": 3, "lr": 1e-3, "amp": false, "model": "vit-b16",'
                  b' "lr-milestones": [5, 10], "normalize_mean": [0.5, 0.5, 0.5]}',
    "block.yaml": b"# a comment\nepochs: 0x10\nlr: .5\namp: yes\nmilestones:\n  - 1\n  - 2\n"
                  b"data: &d 'quoted'\nmodel: *d\n",
    "types.yaml": b"seed: -1\nlr: 1.0e+3\namp: ~\ndata: |\n  multi\n  line\nepochs: \"7\"\n",
    "empty.yaml": b"",
}


def weights() -> tuple:
    g = torch.Generator().manual_seed(3)
    state = {"conv1.weight": torch.randn(2, 3, 1, 1, generator=g),
             "bn1.running_mean": torch.zeros(2), "bn1.num_batches_tracked": torch.tensor(5),
             "fc.bias": torch.randn(2, generator=g).to(torch.bfloat16)}
    st = {
        "resnet-names.safetensors": safetensors_bytes(state, metadata={"format": "pt"}),
        "empty-shape.safetensors": safetensors_bytes({"scalar": torch.tensor(1.5),
                                                      "empty": torch.zeros(0, 3)}),
        "int-types.safetensors": safetensors_bytes({"a": torch.arange(4, dtype=torch.int8),
                                                    "b": torch.arange(3, dtype=torch.int64),
                                                    "c": torch.ones(2, dtype=torch.float16),
                                                    "d": torch.tensor([True, False])}),
    }
    pt = {}
    for name, obj in {"state-dict.pt": state,
                      "nested.pt": {"epoch": 3, "state_dict": {"model." + k: v for k, v in state.items()}},
                      "shared-view.pt": {"w": torch.arange(6.0).view(2, 3), "w_t": torch.arange(6.0).view(2, 3).t()},
                      }.items():
        out = io.BytesIO()
        torch.save(obj, out)
        pt[name] = out.getvalue()
    return st, pt


def main() -> None:
    st, pt = weights()
    for name, data in st.items():
        write("safetensors", name, data)
    for name, data in pt.items():
        write("torch_save", name, data)
    imgs = images()
    for name, data in imgs.items():
        write("image_decode", name, data)
    for name, data in CSV_SEEDS.items():
        write("csv_manifest", name, data)
    for name, data in CONFIG_SEEDS.items():
        write("config", name, data)


if __name__ == "__main__":
    main()
