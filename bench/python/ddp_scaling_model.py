#!/usr/bin/env python3
"""A paper model of data-parallel (DDP) scaling at 1..8 GPUs and across nodes, from measured parts.

Issue 14 §5. Nothing here runs on a GPU: every number in the output comes from a flag below (the
defaults are named and sourced in --help), the parameter layouts of the two models, and the
formulas:

  gradients     fp32, one bucket list per model built as Forensight's GradientReducer and PyTorch's
                DDP Reducer build theirs: parameters in reverse registration order, the first bucket
                closed at --first-bucket-mib, every later one at --bucket-mib (a parameter larger
                than the cap gets a bucket of its own).
  one node      ring all-reduce of b bytes over N ranks: 2(N-1)*alpha + 2(N-1)/N * b / bw, bw the
                link's achievable bus bandwidth (NCCL's "busbw" convention).
  several nodes hierarchical, G GPUs per node, M nodes: intra-node reduce-scatter
                ((G-1)*alpha + (G-1)/G * b / bw_link), inter-node ring all-reduce of each GPU's
                1/G share (2(M-1)*alpha_net + 2(M-1)/M * (b/G) / bw_net_per_gpu), intra-node
                all-gather (as the reduce-scatter). bw_net_per_gpu = network rate * efficiency *
                NICs per node / G (the node's NICs are shared by its G GPUs).
  overlap       buckets run one after another; the last bucket (the first layers, ready only when
                backward ends) is never hidden; of the rest, the share --overlap is hidden behind
                backward, at most --backward-share of the compute time:
                exposed = t_last + (T - t_last) - min(overlap * (T - t_last), backward_share * c).
  step(N)       compute + exposed (compute = the single-GPU step time at batch B per rank).
  throughput    N * B / step(N), capped by the input pipeline: N * workers * rate per worker, and,
                when --host-cores is set, nodes * host_cores * rate (the CPUs the ranks share).
  speedup       throughput(N) / throughput(1); efficiency = speedup / N. Both are given on the GPU
                alone (no loader cap) and with the input-pipeline cap.

Usage:
  python3 bench/python/ddp_scaling_model.py                       # the Markdown table
  python3 bench/python/ddp_scaling_model.py --json runs/ddp_model.json
  # with step times measured on the card (scripts/gpu-check.sh's median step s x 1000, same batch):
  python3 bench/python/ddp_scaling_model.py --step-ms resnet18=3.1,vit-b16=27.4 --batch 32
  # the seed's own ResNet18 run (batch 64, 1 CPU core for every rank's loader; see docs/RESULTS.md):
  python3 bench/python/ddp_scaling_model.py --models resnet18 --batch 64 --links pcie3,nvlink2 \\
      --ns 1,2,3,4 --step-ms resnet18=40 --host-cores 1 --loader-ips-per-worker 83
  python3 bench/python/ddp_scaling_model.py --check-params   # the layouts against torchvision/HF

Stdlib only; --check-params alone imports torch, torchvision and transformers (nothing downloaded).
"""
import argparse
import json
import math
import sys

MIB = 1 << 20

# --- parameter layouts (registration order, element counts) -------------------------------------


def resnet18_layout(num_classes=2):
    """torchvision resnet18(num_classes=2): (name, numel) in model.parameters() order."""
    out = [("conv1.weight", 64 * 3 * 7 * 7), ("bn1.weight", 64), ("bn1.bias", 64)]
    cin = 64
    for li, c in enumerate((64, 128, 256, 512), start=1):
        for bi in range(2):
            stride_block = bi == 0 and c != cin
            p = f"layer{li}.{bi}"
            inp = cin if bi == 0 else c
            out += [(f"{p}.conv1.weight", c * inp * 9), (f"{p}.bn1.weight", c), (f"{p}.bn1.bias", c),
                    (f"{p}.conv2.weight", c * c * 9), (f"{p}.bn2.weight", c), (f"{p}.bn2.bias", c)]
            if stride_block:
                out += [(f"{p}.downsample.0.weight", c * inp), (f"{p}.downsample.1.weight", c),
                        (f"{p}.downsample.1.bias", c)]
        cin = c
    out += [("fc.weight", num_classes * 512), ("fc.bias", num_classes)]
    return out


def vit_b16_layout(num_labels=2, hidden=768, layers=12, mlp=3072, image=224, patch=16):
    """Hugging Face ViTForImageClassification (vit-base-patch16-224 shape, num_labels=2), no pooler,
    in transformers 4.x's registration order (the seed's PyTorch 2.5 era)."""
    tokens = (image // patch) ** 2 + 1
    out = [("embeddings.cls_token", hidden), ("embeddings.position_embeddings", tokens * hidden),
           ("embeddings.patch_embeddings.projection.weight", hidden * 3 * patch * patch),
           ("embeddings.patch_embeddings.projection.bias", hidden)]
    for i in range(layers):
        p = f"encoder.layer.{i}"
        for m in ("attention.attention.query", "attention.attention.key",
                  "attention.attention.value", "attention.output.dense"):
            out += [(f"{p}.{m}.weight", hidden * hidden), (f"{p}.{m}.bias", hidden)]
        out += [(f"{p}.intermediate.dense.weight", mlp * hidden), (f"{p}.intermediate.dense.bias", mlp),
                (f"{p}.output.dense.weight", hidden * mlp), (f"{p}.output.dense.bias", hidden),
                (f"{p}.layernorm_before.weight", hidden), (f"{p}.layernorm_before.bias", hidden),
                (f"{p}.layernorm_after.weight", hidden), (f"{p}.layernorm_after.bias", hidden)]
    out += [("layernorm.weight", hidden), ("layernorm.bias", hidden),
            ("classifier.weight", num_labels * hidden), ("classifier.bias", num_labels)]
    return out


MODELS = {
    # forward GMACs per 224 px image: torchvision's model card (resnet18 1.81) and the ViT paper /
    # timm (vit_base_patch16_224 17.6); used only in the text (compute per gradient byte).
    "resnet18": dict(layout=resnet18_layout, gmacs=1.81),
    "vit-b16": dict(layout=vit_b16_layout, gmacs=17.6),
}


def buckets(layout, first_cap, cap, bytes_per_elem=4):
    """Bucket sizes in bytes, in launch order (reverse registration), as GradientReducer builds them."""
    out, cur = [], 0
    for _, numel in reversed(layout):
        b = numel * bytes_per_elem
        limit = first_cap if len(out) == 0 else cap
        if cur > 0 and cur + b > limit:
            out.append(cur)
            cur = 0
        cur += b
    if cur:
        out.append(cur)
    return out


def check_params():
    import torchvision
    from transformers import ViTConfig, ViTForImageClassification

    rn = torchvision.models.resnet18(weights=None, num_classes=2)
    vit = ViTForImageClassification(ViTConfig(num_labels=2))  # defaults = vit-base-patch16-224
    ok = True
    for name, model, layout in (("resnet18", rn, resnet18_layout()), ("vit-b16", vit, vit_b16_layout())):
        real = [p.numel() for p in model.parameters()]
        mine = [n for _, n in layout]
        same = sorted(real) == sorted(mine)
        ok &= same
        verdict = ("identical order and sizes" if real == mine else
                   "the same tensor sizes in another order (transformers 5 registers each layer's "
                   "norms before its MLP; the layout follows transformers 4.x, the seed's)" if same
                   else "DIFFERENT")
        print(f"{name}: torch {sum(real):,} parameters in {len(real)} tensors; layout {sum(mine):,} "
              f"in {len(mine)}: {verdict}")
    return 0 if ok else 1


# --- communication ---------------------------------------------------------------------------------


def ring(nbytes, n, bw_bytes_s, alpha_s):
    if n <= 1:
        return 0.0
    return 2 * (n - 1) * alpha_s + 2 * (n - 1) / n * nbytes / bw_bytes_s


def allreduce_s(nbytes, n, a, link):
    """One bucket's all-reduce time, seconds."""
    g = a.gpus_per_node
    if n <= g:
        return ring(nbytes, n, link["bw"], link["alpha"])
    if n % g:
        raise SystemExit(f"N={n} is more than one node of {g} GPUs but not a multiple of it")
    m = n // g
    rs = (g - 1) * link["alpha"] + (g - 1) / g * nbytes / link["bw"]      # reduce-scatter in node
    net_per_gpu = a.net_gbps_now * 1e9 / 8 * a.net_efficiency * a.nics_per_node / g
    inter = ring(nbytes / g, m, net_per_gpu, a.net_alpha_us * 1e-6)
    return rs + inter + rs                                                   # + all-gather in node


# --- the model ---------------------------------------------------------------------------------------


def parse_map(text, what):
    out = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        if "=" not in item:
            raise SystemExit(f"--{what}: expected NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = float(v)
    return out


LINKS = {  # name -> (flag holding GB/s, flag holding alpha us, caption)
    "nvlink4": ("nvlink4_gbs", "nvlink_alpha_us", "NVLink 4 (H100/H200)"),
    "nvlink2": ("nvlink2_gbs", "nvlink_alpha_us", "NVLink 2 (V100-SXM2)"),
    "pcie3": ("pcie3_gbs", "pcie_alpha_us", "PCIe 3 x16"),
}


def model_rows(a):
    step_ms = parse_map(a.step_ms, "step-ms") if a.step_ms else {}
    orient = parse_map(a.orient_ips, "orient-ips")
    overlap = parse_map(a.overlap, "overlap")
    ns = [int(x) for x in a.ns.split(",")]
    loader_rank = a.workers_per_rank * a.loader_ips_per_worker
    rows, info = [], {}
    for name in a.models.split(","):
        if name not in MODELS:
            raise SystemExit(f"unknown model {name}; valid: {', '.join(MODELS)}")
        layout = MODELS[name]["layout"]()
        params = sum(n for _, n in layout)
        bks = buckets(layout, a.first_bucket_mib * MIB, a.bucket_mib * MIB)
        if name in step_ms:
            c_ms, c_src = step_ms[name], "--step-ms"
        else:
            ips = orient[name] * a.orient_gpu_factor
            c_ms, c_src = a.batch / ips * 1e3, (f"orientation: {orient[name]:.0f} img/s x "
                                                f"{a.orient_gpu_factor:g} at batch {a.batch}")
        ov_key = name if name in overlap else name.split("-")[0]
        if ov_key not in overlap:
            raise SystemExit(f"--overlap has no entry for {name}")
        ov = overlap[ov_key]
        info[name] = dict(parameters=params, gradient_bytes=params * 4, buckets_bytes=bks,
                          compute_ms=c_ms, compute_source=c_src, overlap=ov,
                          fwd_gmacs_per_image=MODELS[name]["gmacs"],
                          macs_per_gradient_byte_per_image=MODELS[name]["gmacs"] * 1e9 / (params * 4))
        c = c_ms / 1e3
        base_gpu = a.batch / c
        base_cap = min(base_gpu, loader_rank, a.host_cores * a.loader_ips_per_worker
                       if a.host_cores else math.inf)
        scen = []
        for link in a.links.split(","):
            if link not in LINKS:
                raise SystemExit(f"unknown link {link}; valid: {', '.join(LINKS)}")
            gbs, al, cap = LINKS[link]
            ld = dict(bw=getattr(a, gbs) * 1e9, alpha=getattr(a, al) * 1e-6)
            scen += [(cap + f" {getattr(a, gbs):g} GB/s", ld, None, n) for n in ns if n <= a.gpus_per_node]
            if link == a.multi_node_link:
                for g in a.net_gbps.split(","):
                    scen += [(cap + f" + {g} Gb/s x{a.nics_per_node:g}/node", ld, float(g), n)
                             for n in ns if n > a.gpus_per_node]
        for label, ld, net, n in scen:
            a.net_gbps_now = net
            per = [allreduce_s(b, n, a, ld) for b in bks]
            total = sum(per)
            last = per[-1] if per else 0.0
            hidden = min(ov * (total - last), a.backward_share * c)
            exposed = total - hidden
            step = c + exposed
            gpu_ips = n * a.batch / step
            nodes = math.ceil(n / a.gpus_per_node)
            cap_ips = n * loader_rank
            if a.host_cores:
                cap_ips = min(cap_ips, nodes * a.host_cores * a.loader_ips_per_worker)
            ips = min(gpu_ips, cap_ips)
            rows.append(dict(model=name, link=label, n=n, nodes=nodes, step_ms=step * 1e3,
                             comm_ms=total * 1e3, exposed_ms=exposed * 1e3, gpu_ips=gpu_ips,
                             speedup_gpu=gpu_ips / base_gpu, efficiency_gpu=gpu_ips / base_gpu / n,
                             input_cap_ips=cap_ips, ips=ips, speedup=ips / base_cap,
                             efficiency=ips / base_cap / n, input_bound=cap_ips < gpu_ips,
                             gpu_busy=ips / gpu_ips))
    return rows, info


def markdown(rows, info, a):
    src = "; ".join(f"{m} {v['compute_ms']:.2f} ms ({v['compute_source']})" for m, v in info.items())
    out = [f"Batch {a.batch} per GPU, fp32 gradients; single-GPU step: {src}. Overlap: "
           + ", ".join(f"{m} {v['overlap']:.0%}" for m, v in info.items())
           + f" (hidden at most {a.backward_share:.2f} x compute). Loader cap: {a.workers_per_rank:g} "
           f"workers x {a.loader_ips_per_worker:g} img/s per GPU"
           + (f", at most {a.host_cores:g} cores x {a.loader_ips_per_worker:g} img/s per node"
              if a.host_cores else "") + ".", ""]
    for m, v in info.items():
        out.append(f"- {m}: {v['parameters']:,} parameters = {v['gradient_bytes'] / 1e6:.1f} MB of "
                   f"gradients in {len(v['buckets_bytes'])} buckets ("
                   + ", ".join(f"{b / 1e6:.2g}" if b < 1e6 else f"{b / 1e6:.1f}" for b in v["buckets_bytes"])
                   + " MB, launch order); "
                   f"{v['fwd_gmacs_per_image']:g} GMACs forward per image = "
                   f"{v['macs_per_gradient_byte_per_image']:.0f} MACs per gradient byte per image")
    out += ["", "| model | interconnect | GPUs | step ms | all-reduce ms | exposed ms | GPU-bound img/s "
            "| speedup (GPU) | efficiency (GPU) | loader cap img/s | speedup with loader | input-bound "
            "| GPU busy |", "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|:-:|--:|"]
    for r in rows:
        out.append(f"| {r['model']} | {r['link']} | {r['n']} | {r['step_ms']:.2f} | {r['comm_ms']:.2f} | "
                   f"{r['exposed_ms']:.2f} | {r['gpu_ips']:,.0f} | {r['speedup_gpu']:.2f}x | "
                   f"{r['efficiency_gpu']:.0%} | {r['input_cap_ips']:,.0f} | {r['speedup']:.2f}x | "
                   f"{'yes' if r['input_bound'] else 'no'} | {r['gpu_busy']:.0%} |")
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="resnet18,vit-b16")
    p.add_argument("--batch", type=int, default=32,
                   help="images per GPU per step (default 32: studies/seed.yaml; the seed's notebooks "
                        "used 64 for ResNet18 and 16 for ViT)")
    p.add_argument("--step-ms", default="",
                   help="measured single-GPU step ms at --batch, NAME=MS,... (scripts/gpu-check.sh's "
                        "median step s x 1000); models left out take the orientation figure")
    p.add_argument("--orient-ips", default="resnet18=3500,vit-b16=390",
                   help="orientation, not measured: timm's training images/s with AMP on an RTX 3090 "
                        "(default resnet18=3500,vit-b16=390)")
    p.add_argument("--orient-gpu-factor", type=float, default=3.0,
                   help="the card against an RTX 3090 (default 3: an H100, roughly)")
    p.add_argument("--overlap", default="resnet18=0.40,vit=0.12",
                   help="share of the all-reduce hidden behind backward, as `forensight bench parallel` "
                        "measured it on the CPU (docs/RESULTS.md, Parallel strategies: resnet18 40%%, "
                        "vit-tiny 12%%); a key may be a model's prefix (vit)")
    p.add_argument("--backward-share", type=float, default=2 / 3,
                   help="backward's share of the step, the most compute that can hide comm (default 2/3)")
    p.add_argument("--first-bucket-mib", type=float, default=1.0,
                   help="GradientReducerOptions.first_bucket_bytes and DDP's first bucket (1 MiB)")
    p.add_argument("--bucket-mib", type=float, default=25.0, help="later buckets (25 MiB, DDP's bucket_cap_mb)")
    p.add_argument("--links", default="nvlink4,pcie3", help="intra-node links to tabulate: " + ", ".join(LINKS))
    p.add_argument("--nvlink4-gbs", type=float, default=360.0,
                   help="NVLink 4 achievable NCCL bus bandwidth, GB/s (450 per direction nominal; default 360)")
    p.add_argument("--nvlink2-gbs", type=float, default=130.0,
                   help="NVLink 2 on V100-SXM2 (150 per direction nominal; default 130)")
    p.add_argument("--pcie3-gbs", type=float, default=12.0, help="PCIe 3 x16, GB/s achievable (default 12)")
    p.add_argument("--nvlink-alpha-us", type=float, default=10.0, help="per-message latency on NVLink (10 us)")
    p.add_argument("--pcie-alpha-us", type=float, default=10.0, help="per-message latency on PCIe (10 us)")
    p.add_argument("--net-gbps", default="100,400", help="inter-node network rates, Gb/s (100,400)")
    p.add_argument("--net-efficiency", type=float, default=0.9, help="achievable share of the rate (0.9)")
    p.add_argument("--net-alpha-us", type=float, default=25.0, help="per-message latency across nodes (25 us)")
    p.add_argument("--nics-per-node", type=float, default=1.0,
                   help="NICs of --net-gbps per node, shared by its GPUs (default 1; a DGX H100 has 8)")
    p.add_argument("--gpus-per-node", type=int, default=8)
    p.add_argument("--multi-node-link", default="nvlink4", help="the intra-node link of the multi-node rows")
    p.add_argument("--ns", default="1,2,4,8,16,32", help="GPU counts (above --gpus-per-node: whole nodes)")
    p.add_argument("--workers-per-rank", type=float, default=2.0, help="DataLoader workers per GPU (the seed's 2)")
    p.add_argument("--loader-ips-per-worker", type=float, default=138.0,
                   help="images/s one PIL worker decodes+resizes+normalises, 700x700 q90 JPEG -> 224 px "
                        "(default 138: the Python peer at 0 workers, one Zen 4 core, docs/RESULTS.md "
                        "Data pipeline, session 3: 137.5/138.8)")
    p.add_argument("--host-cores", type=float, default=0.0,
                   help="CPU cores per node the loaders share (0 = as many as the workers need)")
    p.add_argument("--json", help="also write rows and inputs as JSON here")
    p.add_argument("--check-params", action="store_true",
                   help="compare the layouts with torchvision / transformers models (needs torch)")
    a = p.parse_args(argv)
    if a.check_params:
        return check_params()
    rows, info = model_rows(a)
    print(markdown(rows, info, a))
    if a.json:
        inputs = {k: v for k, v in vars(a).items() if k not in ("json", "check_params", "net_gbps_now")}
        with open(a.json, "w") as f:
            json.dump(dict(inputs=inputs, models=info, rows=rows), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
