#!/usr/bin/env python3
"""Converts a torchvision or timm state dict to Forensight's safetensors layout (torchvision names).

Forensight's ResNet18 and ViTs use torchvision's state-dict names, so torchvision checkpoints are
written as they are. timm checkpoints are renamed (best effort): timm's resnet18 already uses
torchvision's names; timm's ViT (cls_token, pos_embed, patch_embed.proj, blocks.N.norm1,
blocks.N.attn.qkv, blocks.N.attn.proj, blocks.N.mlp.fc1/fc2, norm, head) is mapped to
class_token, encoder.pos_embedding, conv_proj, encoder.layers.encoder_layer_N.ln_1,
.self_attention.in_proj_*, .self_attention.out_proj, .mlp.0/.mlp.3, encoder.ln, heads.head.
timm ViTs with layer scale, register tokens, global average pooling (fc_norm) or without a class
token have no counterpart and are refused.

Usage:
  export_weights.py --input resnet18.pth --output resnet18.safetensors
  export_weights.py --torchvision resnet18 --random-init --seed 0 --output r.safetensors \
      --reference ref.safetensors --reference-image-size 64
  export_weights.py --torchvision vit --vit-image-size 32 --vit-layers 2 --vit-heads 3 \
      --vit-hidden 192 --vit-mlp 768 --random-init --seed 0 --output v.safetensors
"""
import argparse
import re
import sys

import torch
from safetensors.torch import save_file

# Our ViT presets as torchvision VisionTransformer configurations (patch 16, 12 layers).
VIT_PRESETS = {
    "vit_tiny_16": dict(num_heads=3, hidden_dim=192, mlp_dim=768),
    "vit_small_16": dict(num_heads=6, hidden_dim=384, mlp_dim=1536),
    "vit_b_16": dict(num_heads=12, hidden_dim=768, mlp_dim=3072),
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--input", help="a .pth/.pt state dict (torchvision or timm layout)")
    src.add_argument("--torchvision", help="build a torchvision model: resnet18, vit_tiny_16, "
                     "vit_small_16, vit_b_16, or vit (configured by the --vit-* flags)")
    p.add_argument("--output", required=True, help="the .safetensors file to write")
    p.add_argument("--random-init", action="store_true",
                   help="with --torchvision: random weights (weights=None); required, there is "
                   "no download")
    p.add_argument("--seed", type=int, default=0, help="seed for --random-init (default 0)")
    p.add_argument("--num-classes", type=int, default=1000,
                   help="head size of the --torchvision model (default 1000)")
    p.add_argument("--vit-image-size", type=int, default=224)
    p.add_argument("--vit-patch-size", type=int, default=16)
    p.add_argument("--vit-layers", type=int, default=12)
    p.add_argument("--vit-heads", type=int, default=12)
    p.add_argument("--vit-hidden", type=int, default=768)
    p.add_argument("--vit-mlp", type=int, default=3072)
    p.add_argument("--perturb", action="store_true",
                   help="with --torchvision: add seeded noise to every tensor (BatchNorm running "
                   "statistics included) so that a reference exercises all of them; torchvision "
                   "zero-initialises the ViT head, class token and attention biases, which would "
                   "otherwise make every ViT logit 0")
    p.add_argument("--reference", help="with --torchvision: also write a seeded input and the "
                   "model's eval-mode logits (tensors 'input', 'logits') to this safetensors file")
    p.add_argument("--reference-batch", type=int, default=2, help="reference batch (default 2)")
    p.add_argument("--reference-image-size", type=int, default=None,
                   help="reference input side (default: the ViT's image size, or 224)")
    return p.parse_args()


def build_torchvision(args):
    import torchvision
    from torchvision.models.vision_transformer import VisionTransformer

    if not args.random_init:
        sys.exit("--torchvision needs --random-init (no weights can be downloaded); pass a "
                 "downloaded checkpoint with --input instead")
    torch.manual_seed(args.seed)
    if args.torchvision == "resnet18":
        return torchvision.models.resnet18(weights=None, num_classes=args.num_classes)
    if args.torchvision in VIT_PRESETS or args.torchvision == "vit":
        config = dict(image_size=args.vit_image_size, patch_size=args.vit_patch_size,
                      num_layers=args.vit_layers, num_heads=args.vit_heads,
                      hidden_dim=args.vit_hidden, mlp_dim=args.vit_mlp)
        if args.torchvision != "vit":
            config.update(VIT_PRESETS[args.torchvision], patch_size=16, num_layers=12)
        return VisionTransformer(num_classes=args.num_classes, **config)
    sys.exit(f"unknown --torchvision model '{args.torchvision}'; valid: resnet18, "
             f"{', '.join(VIT_PRESETS)}, vit")


def perturb(model, seed):
    """Seeded noise on every tensor; BatchNorm variances stay positive."""
    generator = torch.Generator().manual_seed(seed + 2)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                tensor.fill_(7)
            elif name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif tensor.is_floating_point():
                tensor.add_(torch.randn(tensor.shape, generator=generator) * 0.02)


def timm_vit_to_torchvision(state):
    """Renames a timm VisionTransformer state dict to torchvision's names."""
    unsupported = [k for k in state if re.search(r"(^|\.)(ls1|ls2|fc_norm|reg_token|norm_pre)", k)]
    if unsupported:
        sys.exit(f"timm ViT features without a torchvision counterpart: {unsupported[:5]}")
    out = {}
    for key, value in state.items():
        new = key
        new = re.sub(r"^cls_token$", "class_token", new)
        new = re.sub(r"^pos_embed$", "encoder.pos_embedding", new)
        new = re.sub(r"^patch_embed\.proj\.", "conv_proj.", new)
        new = re.sub(r"^norm\.", "encoder.ln.", new)
        new = re.sub(r"^head\.", "heads.head.", new)
        m = re.match(r"^blocks\.(\d+)\.(.*)$", new)
        if m:
            rest = m.group(2)
            rest = re.sub(r"^norm1\.", "ln_1.", rest)
            rest = re.sub(r"^norm2\.", "ln_2.", rest)
            rest = re.sub(r"^attn\.qkv\.weight$", "self_attention.in_proj_weight", rest)
            rest = re.sub(r"^attn\.qkv\.bias$", "self_attention.in_proj_bias", rest)
            rest = re.sub(r"^attn\.proj\.", "self_attention.out_proj.", rest)
            rest = re.sub(r"^mlp\.fc1\.", "mlp.0.", rest)
            rest = re.sub(r"^mlp\.fc2\.", "mlp.3.", rest)
            new = f"encoder.layers.encoder_layer_{m.group(1)}.{rest}"
        out[new] = value
    return out


def load_state(path):
    state = torch.load(path, map_location="cpu", weights_only=True)
    for wrapper in ("state_dict", "model", "module"):  # common checkpoint wrappers
        if isinstance(state, dict) and wrapper in state and isinstance(state[wrapper], dict):
            state = state[wrapper]
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if "cls_token" in state or any(k.startswith("blocks.") for k in state):
        print("timm ViT layout detected: renaming to torchvision's names", file=sys.stderr)
        state = timm_vit_to_torchvision(state)
    return state


def main():
    args = parse_args()
    model = None
    if args.torchvision:
        model = build_torchvision(args).eval()
        if args.perturb:
            perturb(model, args.seed)
        state = model.state_dict()
    else:
        state = load_state(args.input)
    tensors = {k: v.detach().contiguous() for k, v in state.items()}
    save_file(tensors, args.output, metadata={"format": "pt", "source": args.input or
                                              f"torchvision:{args.torchvision}:seed{args.seed}"})
    print(f"wrote {len(tensors)} tensors to {args.output}", file=sys.stderr)

    if args.reference:
        if model is None:
            sys.exit("--reference needs --torchvision")
        side = args.reference_image_size or (
            args.vit_image_size if args.torchvision == "vit" else 224)
        generator = torch.Generator().manual_seed(args.seed + 1)
        x = torch.randn(args.reference_batch, 3, side, side, generator=generator)
        with torch.no_grad():
            logits = model(x)
        save_file({"input": x.contiguous(), "logits": logits.contiguous()}, args.reference)
        print(f"wrote reference input {tuple(x.shape)} and logits {tuple(logits.shape)} to "
              f"{args.reference}", file=sys.stderr)


if __name__ == "__main__":
    main()
