#!/usr/bin/env python3
"""The Python PyTorch peer of `forensight bench parallel` (bench/parallel_bench.cpp).

One configuration per run, as the seed study trained: torchvision resnet18 (fc -> 2 classes) or a
torchvision VisionTransformer with Forensight's vit-tiny shape, Adam, cross entropy, a uint8 batch
normalised in the step, optionally under torch.autocast (bf16/fp16, with GradScaler for fp16), and
optionally wrapped in DistributedDataParallel over Gloo when started by torchrun
(`python -m torch.distributed.run --nproc-per-node 2 parallel_peer.py ...`). Each rank steps on
its own batch of --batch images. Rank 0 prints one JSON object: global images/s from the median
of its step times after warm-up.
"""
import argparse
import json
import os
import statistics
import time

import torch

VIT_PRESETS = {
    "vit-tiny": dict(num_heads=3, hidden_dim=192, mlp_dim=768),
    "vit-small": dict(num_heads=6, hidden_dim=384, mlp_dim=1536),
}
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def build(name, image_size):
    import torchvision
    from torchvision.models.vision_transformer import VisionTransformer

    if name == "resnet18":
        return torchvision.models.resnet18(weights=None, num_classes=2)
    if name in VIT_PRESETS:
        return VisionTransformer(image_size=image_size, patch_size=16, num_layers=12,
                                 num_classes=2, **VIT_PRESETS[name])
    raise SystemExit(f"unknown model {name}; valid: resnet18, {', '.join(VIT_PRESETS)}")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="resnet18")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads per rank")
    p.add_argument("--batch", type=int, default=32, help="images per rank and step")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--amp", choices=["off", "bf16", "fp16"], default="off")
    p.add_argument("--channels-last", action="store_true")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        torch.distributed.init_process_group("gloo")
    torch.manual_seed(rank)
    model = build(args.model, args.image_size).train()
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler("cpu", enabled=args.amp == "fp16")
    images = torch.randint(0, 256, (args.batch, 3, args.image_size, args.image_size),
                           dtype=torch.uint8)
    labels = torch.randint(0, 2, (args.batch,))
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.amp)

    def step():
        x = (images.float().div_(255.0) - mean) / std
        if args.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        return loss.item()

    for _ in range(args.warmup):
        step()
    step_s = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        step_s.append(time.perf_counter() - start)
    if world > 1:
        # Rank 0's step times, as Forensight's metrics.jsonl records them: the gradient all-reduce
        # locks the ranks into one pace, so either rank's times measure it, and the median of a
        # per-step maximum over ranks would add the ranks' jitter to PyTorch's side only.
        torch.distributed.destroy_process_group()
    if rank == 0:
        median = statistics.median(step_s)
        print(json.dumps({
            "impl": "python", "model": args.model, "world_size": world, "threads": args.threads,
            "batch_per_rank": args.batch, "image_size": args.image_size, "amp": args.amp,
            "step_s": step_s, "median_step_s": median,
            "images_per_s": args.batch * world / median, "torch": torch.__version__,
        }))


if __name__ == "__main__":
    main()
