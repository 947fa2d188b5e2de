#!/usr/bin/env python3
"""Python's side of the interchange tests (tests/train/model_interchange_test.cpp).

make DIR: random-weight models as Python users save them, PNG images, and each model's
P(AI-generated) on those images (DIR/expected.json):
  resnet18/      torchvision resnet18(num_classes=2): plain.pth (torch.save(state_dict)),
                 nested.pth ({"state_dict": ..., "epoch": ..., "args": ...}), and
                 no_counter.safetensors (without BatchNorm's num_batches_tracked)
  vit_b_16/      torchvision VisionTransformer of vit_b_16's widths, 1 layer, 32 px:
                 plain.safetensors, under_model.pt ({"model": state_dict, "optimizer": ...})
  timm_vit/      timm vit_tiny_patch16 (2 layers, 32 px): plain.pth, plain.safetensors
  hf_vit/        transformers ViTForImageClassification (vit-small widths, 2 layers, 32 px):
                 pretrained/ (save_pretrained: 4.x names), names5.pth (state_dict: 5.x names)
  legacy.pth     torch.save(..., _use_new_zipfile_serialization=False)
  head1000.pth   a torchvision resnet18 with ImageNet's 1000-class head
Every tensor gets seeded noise so that no logit is trivially 0 (torchvision zero-initialises
the ViT head).

check-export WEIGHTS SIDECAR IMAGES OUT: builds the model the sidecar names in torchvision,
load_state_dict(strict=True) from the safetensors file, writes P(AI-generated) per image as JSON.
"""
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
SIZE = 32


def perturb(model, seed):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                tensor.fill_(7)
            elif name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif tensor.is_floating_point():
                tensor.add_(torch.randn(tensor.shape, generator=generator) * 0.05)
    return model.eval()


def batch(paths, norm):
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in norm)
    x = torch.stack([torch.from_numpy(np.array(Image.open(p).convert("RGB"))).permute(2, 0, 1)
                     for p in paths]).float() / 255.0
    return (x - mean) / std


def probabilities(model, paths, norm, hf=False):
    with torch.no_grad():
        out = model(pixel_values=batch(paths, norm)) if hf else model(batch(paths, norm))
        logits = out.logits if hf else out
        return logits.softmax(dim=1)[:, 1].tolist()


def make(root):
    import timm
    import torchvision
    from safetensors.torch import save_file
    from torchvision.models.vision_transformer import VisionTransformer
    from transformers import ViTConfig, ViTForImageClassification

    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        path = os.path.join(root, "images", f"image_{i}.png")
        Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    expected = {}

    def record(name, model, norm, head, hf=False):
        # Scale the head so that the logits differ by at most 3: probabilities away from 0 and 1,
        # where a 1e-4 comparison means something.
        with torch.no_grad():
            out = model(pixel_values=batch(paths, norm)) if hf else model(batch(paths, norm))
            logits = out.logits if hf else out
            spread = (logits[:, 1] - logits[:, 0]).abs().max().item()
            head.weight.mul_(3.0 / spread)
            head.bias.mul_(3.0 / spread)
        probs = probabilities(model, paths, norm, hf)
        expected[name] = {os.path.basename(p): v for p, v in zip(paths, probs)}

    def folder(name):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        return os.path.join(root, name)

    torch.manual_seed(0)
    r18 = perturb(torchvision.models.resnet18(num_classes=2), 1)
    record("resnet18", r18, IMAGENET, r18.fc)
    d = folder("resnet18")
    torch.save(r18.state_dict(), f"{d}/plain.pth")
    torch.save({"state_dict": r18.state_dict(), "epoch": 7, "best_acc": 0.93,
                "args": {"lr": 1e-4, "arch": "resnet18"}}, f"{d}/nested.pth")
    save_file({k: v.contiguous() for k, v in r18.state_dict().items()
               if not k.endswith("num_batches_tracked")}, f"{d}/no_counter.safetensors")

    vit = perturb(VisionTransformer(image_size=SIZE, patch_size=16, num_layers=1, num_heads=12,
                                    hidden_dim=768, mlp_dim=3072, num_classes=2), 2)
    record("vit_b_16", vit, IMAGENET, vit.heads.head)
    d = folder("vit_b_16")
    save_file({k: v.contiguous() for k, v in vit.state_dict().items()}, f"{d}/plain.safetensors")
    torch.save({"model": vit.state_dict(),
                "optimizer": torch.optim.SGD(vit.parameters(), lr=0.1).state_dict()},
               f"{d}/under_model.pt")

    tv = perturb(timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=2,
                                   img_size=SIZE, depth=2), 3)
    record("timm_vit", tv, HALF, tv.head)
    d = folder("timm_vit")
    torch.save(tv.state_dict(), f"{d}/plain.pth")
    save_file({k: v.contiguous() for k, v in tv.state_dict().items()}, f"{d}/plain.safetensors")

    config = ViTConfig(image_size=SIZE, patch_size=16, num_hidden_layers=2, hidden_size=384,
                       num_attention_heads=6, intermediate_size=1536, num_labels=2)
    hf = perturb(ViTForImageClassification(config), 4)
    record("hf_vit", hf, HALF, hf.classifier, hf=True)
    d = folder("hf_vit")
    hf.save_pretrained(f"{d}/pretrained")
    torch.save(hf.state_dict(), f"{d}/names5.pth")

    torch.save(r18.state_dict(), f"{root}/legacy.pth", _use_new_zipfile_serialization=False)
    torch.save(torchvision.models.resnet18(num_classes=1000).state_dict(), f"{root}/head1000.pth")

    with open(os.path.join(root, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)


def check_export(weights, sidecar, images, out):
    import torchvision  # noqa: F401 (the sidecar's constructor names it)
    from safetensors.torch import load_file

    with open(sidecar) as f:
        description = json.load(f)
    model = eval(description["python"], {"torchvision": torchvision})
    model.load_state_dict(load_file(weights), strict=True)
    model.eval()
    paths = sorted(os.path.join(images, p) for p in os.listdir(images) if p.endswith(".png"))
    probs = probabilities(model, paths, (description["mean"], description["std"]))
    with open(out, "w") as f:
        json.dump({os.path.basename(p): v for p, v in zip(paths, probs)}, f, indent=1)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(sys.argv[2])
    elif len(sys.argv) == 6 and sys.argv[1] == "check-export":
        check_export(*sys.argv[2:])
    else:
        sys.exit(__doc__)
