#!/usr/bin/env python3
"""The Python PyTorch peer of Forensight's training-step benchmark (bench/train_step_bench.cpp).

One configuration per run: the same model (torchvision resnet18, or a VisionTransformer with our
vit-tiny/small/base preset), the same step (uint8 batch -> float, normalise, forward, cross
entropy, backward, Adam) and the same timing (warm-up steps, then timed steps). Prints one JSON
object on stdout.
"""
import argparse
import json
import time

import torch

VIT_PRESETS = {
    "vit-tiny": dict(num_heads=3, hidden_dim=192, mlp_dim=768),
    "vit-small": dict(num_heads=6, hidden_dim=384, mlp_dim=1536),
    "vit-base": dict(num_heads=12, hidden_dim=768, mlp_dim=3072),
}
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def build(name, image_size, num_classes):
    import torchvision
    from torchvision.models.vision_transformer import VisionTransformer

    if name == "resnet18":
        return torchvision.models.resnet18(weights=None, num_classes=num_classes)
    if name in VIT_PRESETS:
        return VisionTransformer(image_size=image_size, patch_size=16, num_layers=12,
                                 num_classes=num_classes, **VIT_PRESETS[name])
    raise SystemExit(f"unknown model {name}; valid: resnet18, {', '.join(VIT_PRESETS)}")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="resnet18")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = build(args.model, args.image_size, num_classes=2).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    images = torch.randint(0, 256, (args.batch, 3, args.image_size, args.image_size),
                           dtype=torch.uint8)
    labels = torch.randint(0, 2, (args.batch,))
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)

    def step():
        x = (images.float().div_(255.0) - mean) / std
        loss = torch.nn.functional.cross_entropy(model(x), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    losses = [step() for _ in range(args.warmup)]
    step_s = []
    for _ in range(args.steps):
        start = time.perf_counter()
        losses.append(step())
        step_s.append(time.perf_counter() - start)
    total = sum(step_s)
    print(json.dumps({
        "impl": "python", "model": args.model, "threads": args.threads, "batch": args.batch,
        "image_size": args.image_size, "warmup": args.warmup, "steps": args.steps,
        "step_s": step_s, "images_per_s": args.batch * args.steps / total if total > 0 else 0.0,
        "losses": losses, "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
