#!/usr/bin/env python3
"""The seed study's Python training, as its authors wrote it: the peer of `forensight study` cells.

The seed study (github.com/kaushikMreddy293/Accelerating-Image-Forensics-with-Parallel-Computing,
its notebooks and models.py) trained two binary real/AI-generated classifiers with stock PyTorch:

  - torchvision ResNet18 with `fc = Linear(512, 2)`, images normalised with the ImageNet mean/std;
  - Hugging Face transformers' ViTForImageClassification (google/vit-base-patch16-224 layout,
    num_labels=2), images normalised with mean = std = 0.5; logits from `.logits`;

reading PIL images through Resize((224, 224)) / ToTensor / Normalize in a torch DataLoader with
workers, cross entropy, Adam/AdamW, torch.autocast with GradScaler, DistributedDataParallel under
torchrun (DistributedSampler), and a naive two-device split of the model (first half on cuda:0,
second half on cuda:1, activations moved with .to()). This script runs that recipe, one
configuration per run, and writes one JSON object (see --out) that `forensight study` sets beside
its own cells.

How it differs from the seed, and why:
  - Starting weights come from Forensight's --init file (torchvision state-dict names; ViT names
    are mapped onto Hugging Face's) instead of ImageNet / google/vit-base-patch16-224 downloads, so
    both engines start from the same weights and their accuracies compare. Without --init the
    models start from their libraries' random initialisation (nothing is downloaded).
  - The ViT's size is configurable (--vit-*) so that a CPU can train it (vit-tiny: 192/12/3/768).
    Its config uses layer_norm_eps=1e-6 and no dropout, so that it computes what torchvision's (and
    Forensight's) VisionTransformer computes; --self-check proves the weight mapping to 1e-5.
  - The data come from a manifest (path,label,split) written by Forensight, not from the seed's
    pandas slices of train.csv; training shuffles with a seeded generator.
  - Under DDP, validation is sharded without padding and its counts are summed over the ranks, so
    that the metrics cover the whole val split exactly once (the seed validated on one rank).
  - A prediction is "fake" when logit 1 >= logit 0 (Forensight's p >= 0.5), where the seed took the
    argmax; they differ only on exact ties.
  - The naive split runs on one device (both halves on cuda:0, or on the CPU) when two GPUs are not
    there: the same maths and the same .to() calls, so that its cost can be measured anywhere.

Usage:
  original.py --manifest split.csv --model resnet18 --epochs 1 --threads 2 --workers 2 --out r.json
  python -m torch.distributed.run --nproc-per-node 2 original.py --manifest split.csv ...
  original.py --self-check --model vit --vit-hidden 192 --vit-layers 2 --vit-heads 3 \
      --vit-mlp 768 --image-size 32 --patch 8        # exit 0 when HF ViT == torchvision ViT
"""
import argparse
import csv
import importlib.metadata
import json
import os
import resource
import sys
import tempfile
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
VIT_MEAN, VIT_STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
SPLITS = ("train", "val", "test")
SELF_CHECK_TOLERANCE = 1e-5
PROG = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "original.py"


class Failure(Exception):
    """An error the user can fix; main prints its message as one line and exits 1."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line on stderr, not argparse's usage block
        sys.stderr.write(f"{PROG}: error: {message} (see --help)\n")
        sys.exit(2)


def parse_args(argv):
    p = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", help="CSV with columns path,label,split (split: train|val|test); "
                   "relative paths are taken from the manifest's folder")
    p.add_argument("--model", choices=["resnet18", "vit"], default="resnet18")
    p.add_argument("--vit-hidden", type=int, default=768, help="ViT width (default 768)")
    p.add_argument("--vit-layers", type=int, default=12, help="ViT encoder layers (default 12)")
    p.add_argument("--vit-heads", type=int, default=12, help="ViT attention heads (default 12)")
    p.add_argument("--vit-mlp", type=int, default=3072, help="ViT MLP width (default 3072)")
    p.add_argument("--patch", type=int, default=16, help="ViT patch side in pixels (default 16)")
    p.add_argument("--init", help="starting weights, .safetensors with torchvision state-dict "
                   "names (Forensight's layout); default: the library's random initialisation")
    p.add_argument("--image-size", type=int, default=224, help="side after Resize (default 224)")
    p.add_argument("--batch-size", type=int, default=32,
                   help="images per rank and step (default 32)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-steps", type=int, default=0,
                   help="end each epoch's training pass after N optimiser steps (0 = no limit)")
    p.add_argument("--optimizer", choices=["adam", "adamw", "sgd"], default="adam")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--weight-decay", type=float, default=0.0,
                   help="for every optimiser, AdamW included (default 0)")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch.set_num_threads per rank (default 1)")
    p.add_argument("--workers", type=int, default=0, help="DataLoader num_workers (default 0)")
    p.add_argument("--amp", choices=["off", "bf16", "fp16"], default="off",
                   help="torch.autocast dtype; fp16 adds a GradScaler (default off)")
    p.add_argument("--placement", choices=["one", "naive"], default="one",
                   help="naive: the seed's two-half model split (cuda:0 | cuda:1 when there are "
                   "two GPUs, else both halves on the one device)")
    p.add_argument("--channels-last", action="store_true",
                   help="ResNet18 in channels_last on the CPU too (always on CUDA)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write the result JSON here (atomically); it is also printed")
    p.add_argument("--self-check", action="store_true",
                   help="only check that --init (or random torchvision weights) loads into the "
                   "model so that its logits equal torchvision's to 1e-5; exit 0 or 1")
    a = p.parse_args(argv)
    for name in ("vit_hidden", "vit_layers", "vit_heads", "vit_mlp", "patch", "image_size",
                 "batch_size", "epochs", "threads"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} is {getattr(a, name)}: it must be at least 1")
    for name in ("max_steps", "workers"):
        if getattr(a, name) < 0:
            p.error(f"--{name.replace('_', '-')} is {getattr(a, name)}: it must be 0 or more")
    if a.model == "vit":
        if a.vit_hidden % a.vit_heads:
            p.error(f"--vit-hidden {a.vit_hidden} is not a multiple of --vit-heads {a.vit_heads}")
        if a.image_size % a.patch:
            p.error(f"--image-size {a.image_size} is not a multiple of --patch {a.patch}")
    if not a.self_check and not a.manifest:
        p.error("--manifest is required (unless --self-check)")
    return a


# ---------------------------------------------------------------------------------------------
# Data: the seed's PIL dataset.

def read_manifest(path):
    """Returns {split: [(path, label), ...]} for train and val, every file checked to exist."""
    if not os.path.isfile(path):
        raise Failure(f"manifest {path}: no such file")
    root = os.path.dirname(os.path.abspath(path))
    items = {split: [] for split in SPLITS}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        missing = [c for c in ("path", "label", "split") if c not in columns]
        if missing:
            raise Failure(f"manifest {path}: missing column(s) {', '.join(missing)}; it has "
                          f"{', '.join(columns) or 'no header'}; expected path,label,split")
        for line, row in enumerate(reader, start=2):
            label, split = (row["label"] or "").strip(), (row["split"] or "").strip()
            if label not in ("0", "1"):
                raise Failure(f"manifest {path} line {line}: label '{label}' is not 0 or 1")
            if split not in SPLITS:
                raise Failure(f"manifest {path} line {line}: split '{split}' is not one of "
                              f"{', '.join(SPLITS)}")
            items[split].append((os.path.join(root, row["path"]), int(label)))
    if not items["train"]:
        raise Failure(f"manifest {path}: no rows with split 'train'")
    absent = [p for split in ("train", "val") for p, _ in items[split] if not os.path.isfile(p)]
    if absent:
        raise Failure(f"manifest {path}: {len(absent)} image file(s) do not exist, "
                      f"e.g. {absent[0]}")
    return items


class FileList(torch.utils.data.Dataset):
    def __init__(self, items, transform):
        self.items, self.transform = items, transform

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        from PIL import Image

        path, label = self.items[i]
        with Image.open(path) as image:
            return self.transform(image.convert("RGB")), label


def make_transform(model, image_size):
    from torchvision import transforms

    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if model == "resnet18" else (VIT_MEAN, VIT_STD)
    return transforms.Compose([transforms.Resize((image_size, image_size)), transforms.ToTensor(),
                               transforms.Normalize(mean, std)])


# ---------------------------------------------------------------------------------------------
# Models and starting weights.

def build_model(a):
    if a.model == "resnet18":
        import torchvision

        return torchvision.models.resnet18(weights=None, num_classes=2)
    from transformers import ViTConfig, ViTForImageClassification

    config = ViTConfig(hidden_size=a.vit_hidden, num_hidden_layers=a.vit_layers,
                       num_attention_heads=a.vit_heads, intermediate_size=a.vit_mlp,
                       image_size=a.image_size, patch_size=a.patch, num_channels=3,
                       hidden_act="gelu", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                       layer_norm_eps=1e-6, qkv_bias=True, num_labels=2)
    return ViTForImageClassification(config)


def hf_vit_names(hf_keys):
    """The Hugging Face names of one ViT layer's tensors, for the transformers release installed:
    5.x names them vit.layers.N.{attention.q_proj, mlp.fc1, ...}, 4.x
    vit.encoder.layer.N.{attention.attention.query, intermediate.dense, ...}."""
    if "vit.layers.0.layernorm_before.weight" in hf_keys:
        return "vit.layers.{}.", {"q": "attention.q_proj", "k": "attention.k_proj",
                                  "v": "attention.v_proj", "out": "attention.o_proj",
                                  "fc1": "mlp.fc1", "fc2": "mlp.fc2"}
    if "vit.encoder.layer.0.layernorm_before.weight" in hf_keys:
        return "vit.encoder.layer.{}.", {
            "q": "attention.attention.query", "k": "attention.attention.key",
            "v": "attention.attention.value", "out": "attention.output.dense",
            "fc1": "intermediate.dense", "fc2": "output.dense"}
    raise Failure("this transformers release names its ViT layers in a way this script does not "
                  f"map (e.g. {sorted(hf_keys)[:4]}); expected vit.layers.N.* or "
                  "vit.encoder.layer.N.*")


def torchvision_vit_to_hf(state, num_layers, hf_keys, path):
    """Renames a torchvision VisionTransformer state dict to ViTForImageClassification's names,
    splitting each in_proj into query, key and value. Returns the renamed state and, for messages,
    each new name's torchvision origin."""
    top = {"class_token": "vit.embeddings.cls_token",
           "encoder.pos_embedding": "vit.embeddings.position_embeddings",
           "conv_proj.weight": "vit.embeddings.patch_embeddings.projection.weight",
           "conv_proj.bias": "vit.embeddings.patch_embeddings.projection.bias",
           "encoder.ln.weight": "vit.layernorm.weight", "encoder.ln.bias": "vit.layernorm.bias",
           "heads.head.weight": "classifier.weight", "heads.head.bias": "classifier.bias"}
    layer_prefix, n = hf_vit_names(hf_keys)
    per_layer = {"ln_1": "layernorm_before", "self_attention.out_proj": n["out"],
                 "ln_2": "layernorm_after", "mlp.0": n["fc1"], "mlp.3": n["fc2"]}
    expected = set(top)
    for i in range(num_layers):
        tv = f"encoder.layers.encoder_layer_{i}."
        expected |= {tv + f"self_attention.in_proj_{kind}" for kind in ("weight", "bias")}
        expected |= {tv + f"{name}.{kind}" for name in per_layer for kind in ("weight", "bias")}
    given = {k for k in state if not k.endswith("num_batches_tracked")}
    unknown, missing = sorted(given - expected), sorted(expected - given)
    if unknown or missing:
        raise Failure(f"--init {path} does not hold a {num_layers}-layer torchvision ViT: "
                      + "; ".join(part for part in (
                          f"unknown tensors {', '.join(unknown)}" if unknown else "",
                          f"missing tensors {', '.join(missing)}" if missing else "") if part))
    out = {top[k]: v for k, v in state.items() if k in top}
    origin = {top[k]: k for k in top}
    for i in range(num_layers):
        tv, hf = f"encoder.layers.encoder_layer_{i}.", layer_prefix.format(i)
        for kind in ("weight", "bias"):
            in_proj = tv + f"self_attention.in_proj_{kind}"
            for part, tensor in zip("qkv", state[in_proj].chunk(3, dim=0)):
                out[hf + f"{n[part]}.{kind}"] = tensor
                origin[hf + f"{n[part]}.{kind}"] = f"{in_proj}[{part}]"
            for name, hf_name in per_layer.items():
                out[hf + f"{hf_name}.{kind}"] = state[tv + f"{name}.{kind}"]
                origin[hf + f"{hf_name}.{kind}"] = tv + f"{name}.{kind}"
    return out, origin


def load_init(model, path, a):
    """Loads Forensight's starting weights (torchvision names) into the model, refusing any
    unknown, missing or misshapen tensor."""
    if not os.path.isfile(path):
        raise Failure(f"--init {path}: no such file")
    from safetensors.torch import load_file

    try:
        state = load_file(path)
    except Exception as e:  # safetensors raises its own error types
        raise Failure(f"--init {path}: not a readable safetensors file ({e})") from None
    own = model.state_dict()
    origin = {}
    if a.model == "vit":
        state, origin = torchvision_vit_to_hf(state, a.vit_layers, set(own), path)
    else:
        unknown = sorted(k for k in state if k not in own)
        missing = sorted(k for k in own if k not in state and not k.endswith("num_batches_tracked"))
        if unknown or missing:
            raise Failure(f"--init {path} does not hold a torchvision resnet18 with 2 classes: "
                          + "; ".join(part for part in (
                              f"unknown tensors {', '.join(unknown)}" if unknown else "",
                              f"missing tensors {', '.join(missing)}" if missing else "") if part))
    if set(state) - set(own):  # a transformers release whose ViT has other tensors
        raise Failure(f"--init {path}: mapped names absent from the model: "
                      f"{', '.join(sorted(set(state) - set(own)))}")
    wrong = [f"{origin.get(k, k)} {tuple(v.shape)} (model {tuple(own[k].shape)})"
             for k, v in state.items() if v.shape != own[k].shape]
    if wrong:
        raise Failure(f"--init {path}: tensor shapes differ from the model's (check --image-size, "
                      f"--patch and --vit-*): {', '.join(wrong)}")
    result = model.load_state_dict(state, strict=False)
    left = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if left:
        raise Failure(f"--init {path}: the model has tensors the file lacks: {', '.join(left)}")


class NaiveSplit(nn.Module):
    """The seed's model parallelism: the first half of the model on one device, the second on
    another; the activations cross with .to() and the logits come out on the second device."""

    def __init__(self, first, second, first_device, second_device):
        super().__init__()
        self.first_device, self.second_device = first_device, second_device
        self.first, self.second = first.to(first_device), second.to(second_device)

    def forward(self, x):  # (B, 3, H, W) -> (B, 2)
        return self.second(self.first(x.to(self.first_device)).to(self.second_device))


class VitFront(nn.Module):
    """Patch embedding plus the first layers of a Hugging Face ViT."""

    def __init__(self, embeddings, layers):
        super().__init__()
        self.embeddings, self.layers = embeddings, nn.ModuleList(layers)

    def forward(self, x):  # (B, 3, H, W) -> (B, T, D)
        h = self.embeddings(x)
        for layer in self.layers:
            h = layer(h)
            h = h[0] if isinstance(h, tuple) else h  # transformers 4.x returns a tuple
        return h


class VitBack(nn.Module):
    """The remaining layers, the final layernorm and the classifier on the class token."""

    def __init__(self, layers, layernorm, classifier):
        super().__init__()
        self.layers, self.layernorm, self.classifier = nn.ModuleList(layers), layernorm, classifier

    def forward(self, h):  # (B, T, D) -> (B, 2)
        for layer in self.layers:
            h = layer(h)
            h = h[0] if isinstance(h, tuple) else h
        return self.classifier(self.layernorm(h)[:, 0, :])


def split_naive(model, a, devices):
    if a.model == "resnet18":
        m = model
        first = nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2)
        second = nn.Sequential(m.layer3, m.layer4, m.avgpool, nn.Flatten(1), m.fc)
    else:
        vit = model.vit
        layers = list(vit.layers if hasattr(vit, "layers") else vit.encoder.layer)
        half = len(layers) // 2
        first = VitFront(vit.embeddings, layers[:half])
        second = VitBack(layers[half:], vit.layernorm, model.classifier)
    return NaiveSplit(first, second, devices[0], devices[-1])


def logits_of(model, x):
    out = model(x)
    return out.logits if hasattr(out, "logits") else out  # Hugging Face returns an output object


def make_optimizer(a, parameters):
    if a.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=a.lr, weight_decay=a.weight_decay)
    if a.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=a.lr, weight_decay=a.weight_decay)
    return torch.optim.SGD(parameters, lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay)


# ---------------------------------------------------------------------------------------------
# --self-check: the weight mapping, proved on logits.

def perturb(model, seed):
    """Seeded noise on every float tensor: torchvision zero-initialises the ViT head, class token
    and attention biases, which would hide a wrong mapping of them."""
    g = torch.Generator().manual_seed(seed + 2)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif t.is_floating_point():
                t.add_(torch.randn(t.shape, generator=g) * 0.02)


def self_check(a):
    """Loads --init (or seeded random torchvision weights) into torchvision's model and, through
    --init's path, into this script's; returns 0 when their eval logits agree to 1e-5."""
    import torchvision
    from safetensors.torch import save_file

    torch.manual_seed(a.seed)
    if a.model == "resnet18":
        reference = torchvision.models.resnet18(weights=None, num_classes=2)
    else:
        from torchvision.models.vision_transformer import VisionTransformer

        reference = VisionTransformer(image_size=a.image_size, patch_size=a.patch,
                                      num_layers=a.vit_layers, num_heads=a.vit_heads,
                                      hidden_dim=a.vit_hidden, mlp_dim=a.vit_mlp, num_classes=2)
    with tempfile.TemporaryDirectory() as tmp:
        if a.init:
            load_reference(reference, a.init)
            path = a.init
        else:
            perturb(reference, a.seed)
            # Without num_batches_tracked, as files from other tools may come.
            state = {k: v.contiguous() for k, v in reference.state_dict().items()
                     if not k.endswith("num_batches_tracked")}
            path = os.path.join(tmp, "init.safetensors")
            save_file(state, path)
        model = build_model(a)
        load_init(model, path, a)
    reference.eval()
    model.eval()
    generator = torch.Generator().manual_seed(a.seed + 1)
    x = torch.randn(2, 3, a.image_size, a.image_size, generator=generator)  # (2, 3, S, S)
    with torch.no_grad():
        want, got = reference(x), logits_of(model, x)
    diff = (want - got).abs().max().item()
    ok = diff <= SELF_CHECK_TOLERANCE
    print(json.dumps({"self_check": "pass" if ok else "fail", "model": a.model,
                      "max_abs_diff": diff, "tolerance": SELF_CHECK_TOLERANCE,
                      "logit_scale": want.abs().max().item(), "init": a.init,
                      "torch": torch.__version__, "transformers": _transformers_version(a)}))
    return 0 if ok else 1


def load_reference(model, path):
    """Loads --init into the torchvision reference model as torchvision itself would."""
    from safetensors.torch import load_file

    if not os.path.isfile(path):
        raise Failure(f"--init {path}: no such file")
    try:
        result = model.load_state_dict(load_file(path), strict=False)
    except RuntimeError as e:  # shapes
        raise Failure(f"--init {path} does not fit the torchvision model given by --model, "
                      f"--vit-*, --image-size, --patch: {' '.join(str(e).split())}") from None
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise Failure(f"--init {path} does not fit the torchvision model: missing "
                      f"{', '.join(missing) or 'none'}; unknown "
                      f"{', '.join(result.unexpected_keys) or 'none'}")


def _transformers_version(a):
    if a.model != "vit":
        return None  # transformers takes no part in a ResNet18 run
    try:
        return importlib.metadata.version("transformers")
    except importlib.metadata.PackageNotFoundError:
        return None


# ---------------------------------------------------------------------------------------------
# Training.

class Ranks:
    """torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK), or a single process."""

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local = int(os.environ.get("LOCAL_RANK", "0"))
        self.main = self.rank == 0

    def reduce(self, values, device, op=dist.ReduceOp.SUM):
        """values (a list of floats) reduced over the ranks with op."""
        if self.world == 1:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t, op=op)
        return t.cpu().tolist()


def pick_devices(a, ranks):
    if a.device == "cuda" and not torch.cuda.is_available():
        raise Failure("--device cuda: no CUDA device is available (torch "
                      f"{torch.__version__}); use --device cpu")
    if a.device == "cpu":
        return [torch.device("cpu")]
    if ranks.world > 1:
        if ranks.local >= torch.cuda.device_count():
            raise Failure(f"LOCAL_RANK {ranks.local} has no GPU: "
                          f"{torch.cuda.device_count()} visible")
        torch.cuda.set_device(ranks.local)
        return [torch.device("cuda", ranks.local)]
    if a.placement == "naive" and torch.cuda.device_count() >= 2:
        return [torch.device("cuda", 0), torch.device("cuda", 1)]
    return [torch.device("cuda", 0)]


def synchronize(devices):
    for d in devices:
        if d.type == "cuda":
            torch.cuda.synchronize(d)


def validate(model, loader, devices, autocast, channels_last):
    """Counts over this rank's shard: [tp, fp, fn, tn, loss_sum, images]."""
    model.eval()
    counts = [0.0] * 6
    with torch.no_grad():
        for x, y in loader:
            x = x.to(devices[0])
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast():
                logits = logits_of(model, x)
            logits = logits.float().cpu()  # (B, 2)
            counts[4] += F.cross_entropy(logits, y, reduction="sum").item()
            fake = logits[:, 1] >= logits[:, 0]
            real_label = y == 0
            counts[0] += (fake & ~real_label).sum().item()
            counts[1] += (fake & real_label).sum().item()
            counts[2] += (~fake & ~real_label).sum().item()
            counts[3] += (~fake & real_label).sum().item()
            counts[5] += len(y)
    return counts


def summarize_val(counts):
    tp, fp, fn, tn, loss_sum, n = counts
    if n == 0:
        return {"val_accuracy": None, "val_macro_f1": None, "val_loss": None, "val_images": 0}

    def f1(t, f_pos, f_neg):
        return 2 * t / (2 * t + f_pos + f_neg) if 2 * t + f_pos + f_neg else 0.0

    return {"val_accuracy": (tp + tn) / n, "val_macro_f1": 0.5 * (f1(tp, fp, fn) + f1(tn, fn, fp)),
            "val_loss": loss_sum / n, "val_images": int(n)}


def train(a):
    ranks = Ranks()
    if ranks.world > 1 and a.placement == "naive":
        raise Failure("--placement naive cannot run under torchrun (DDP): the seed split the model "
                      "over the devices of one process; use --placement one with several ranks")
    items = read_manifest(a.manifest)
    if a.init and not os.path.isfile(a.init):
        raise Failure(f"--init {a.init}: no such file")
    torch.set_num_threads(a.threads)
    devices = pick_devices(a, ranks)
    if ranks.world > 1:
        dist.init_process_group("nccl" if a.device == "cuda" else "gloo")
    comm_device = devices[0]

    # Data: train shuffled with a seeded generator (DistributedSampler under DDP, seeded the same);
    # val sharded rank::world without padding, so that every image is counted once.
    transform = make_transform(a.model, a.image_size)
    train_set = FileList(items["train"], transform)
    val_set = torch.utils.data.Subset(FileList(items["val"], transform),
                                      range(ranks.rank, len(items["val"]), ranks.world))
    sampler = None
    generator = torch.Generator().manual_seed(a.seed)
    if ranks.world > 1:
        sampler = torch.utils.data.distributed.DistributedSampler(
            train_set, num_replicas=ranks.world, rank=ranks.rank, shuffle=True, seed=a.seed)
    train_loader = torch.utils.data.DataLoader(
        train_set, batch_size=a.batch_size, shuffle=sampler is None, sampler=sampler,
        generator=generator if sampler is None else None, num_workers=a.workers)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=a.batch_size, shuffle=False,
                                             num_workers=a.workers)

    # Model: the same seed on every rank (DDP broadcasts rank 0's weights anyway).
    torch.manual_seed(a.seed)
    model = build_model(a)
    if a.init:
        load_init(model, a.init, a)
    channels_last = a.model == "resnet18" and (a.device == "cuda" or a.channels_last)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if a.placement == "naive":
        model = split_naive(model, a, devices)
    else:
        model = model.to(devices[0])
    eval_model = model
    if ranks.world > 1:
        ids = [devices[0].index] if devices[0].type == "cuda" else None
        model = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        # Validation runs on the bare module: shards differ in size, and DDP's forward would
        # broadcast buffers, a collective that unequal shards would leave waiting.
        eval_model = model.module
    optimizer = make_optimizer(a, model.parameters())
    criterion = nn.CrossEntropyLoss()
    device_type = devices[0].type
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(a.amp)

    def autocast():
        return torch.autocast(device_type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)

    scaler = torch.amp.GradScaler(device_type, enabled=a.amp == "fp16")
    out_device = devices[-1]

    epochs = []
    for epoch in range(a.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        # 1. Train: the seed's loop, under autocast, the loss scaled for fp16.
        model.train()
        synchronize(devices)
        start = time.perf_counter()
        steps, images, loss_sum = 0, 0, 0.0
        for x, y in train_loader:
            x, y = x.to(devices[0], non_blocking=True), y.to(out_device, non_blocking=True)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            optimizer.zero_grad()
            with autocast():
                loss = criterion(logits_of(model, x), y)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            loss_sum += loss.item() * len(y)
            images += len(y)
            steps += 1
            if a.max_steps and steps >= a.max_steps:
                break
        synchronize(devices)
        train_s = time.perf_counter() - start

        # 2. Validate: every rank its shard, the counts summed over the ranks.
        start = time.perf_counter()
        counts = validate(eval_model, val_loader, devices, autocast, channels_last)
        synchronize(devices)
        val_s = time.perf_counter() - start

        # 3. Record: totals over the ranks; the slowest rank's times.
        counts = ranks.reduce(counts, comm_device)
        images, loss_sum = ranks.reduce([images, loss_sum], comm_device)
        train_s, val_s = ranks.reduce([train_s, val_s], comm_device, dist.ReduceOp.MAX)
        epoch_s = train_s + val_s
        record = {"epoch": epoch, "epoch_s": epoch_s, "train_s": train_s, "val_s": val_s,
                  "train_images": int(images), "steps": steps,
                  "train_loss": loss_sum / images if images else None,
                  "images_per_s": images / epoch_s if epoch_s > 0 else None,
                  **summarize_val(counts)}
        epochs.append(record)
        if ranks.main:
            print(f"{PROG}: epoch {epoch + 1}/{a.epochs}: {record['epoch_s']:.2f} s "
                  f"({record['train_s']:.2f} train + {record['val_s']:.2f} val), "
                  f"{int(images)} train images, val accuracy {record['val_accuracy']}",
                  file=sys.stderr)

    gpu = [torch.cuda.max_memory_allocated(d) for d in devices if d.type == "cuda"]
    result = {
        "engine": "python", "model": a.model, "torch": torch.__version__,
        "transformers": _transformers_version(a),
        "device": str(devices[0]), "devices": [str(d) for d in devices],
        "ranks": ranks.world, "threads": a.threads, "workers": a.workers, "amp": a.amp,
        "placement": a.placement, "channels_last": channels_last,
        "image_size": a.image_size, "batch_size": a.batch_size, "optimizer": a.optimizer,
        "lr": a.lr, "max_steps": a.max_steps, "seed": a.seed, "init": a.init,
        "vit": ({"hidden": a.vit_hidden, "layers": a.vit_layers, "heads": a.vit_heads,
                 "mlp": a.vit_mlp, "patch": a.patch} if a.model == "vit" else None),
        "epochs": epochs,
        "epoch_s": epochs[-1]["epoch_s"], "images_per_s": epochs[-1]["images_per_s"],
        "train_images": epochs[-1]["train_images"],
        "val_accuracy": epochs[-1]["val_accuracy"], "val_macro_f1": epochs[-1]["val_macro_f1"],
        "val_loss": epochs[-1]["val_loss"], "val_images": epochs[-1]["val_images"],
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "peak_rss_children_bytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
        "peak_gpu_bytes": max(gpu) if gpu else None,
        "peak_gpu_bytes_per_device": gpu or None,
        "argv": sys.argv,
    }
    if ranks.world > 1:
        dist.destroy_process_group()
    if ranks.main:
        text = json.dumps(result)
        if a.out:
            write_atomically(a.out, text + "\n")
        print(text)


def write_atomically(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".original-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if a.self_check:
            return self_check(a)
        train(a)
        return 0
    except Failure as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
