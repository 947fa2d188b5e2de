"""The seed study's Python predict path, timed: one JPEG -> PIL -> torchvision Resize((224,224)),
ToTensor, Normalize -> torchvision model -> P(AI-generated). Prints one JSON object.

Run by `forensight bench predict` in the same run as the C++ path, with the same threads."""
import argparse
import json
import time

import torch
import torchvision
from PIL import Image
from torchvision import transforms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", required=True)
    ap.add_argument("--model", default="resnet18", choices=["resnet18", "vit-tiny"])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--runs", type=int, default=30)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.model == "resnet18":
        model = torchvision.models.resnet18(num_classes=2)
        norm = transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    else:
        model = torchvision.models.VisionTransformer(
            image_size=a.size, patch_size=16, num_layers=12, num_heads=3, hidden_dim=192,
            mlp_dim=768, num_classes=2)
        norm = transforms.Normalize([0.5] * 3, [0.5] * 3)
    model.eval()
    tf = transforms.Compose([transforms.Resize((a.size, a.size)), transforms.ToTensor(), norm])

    def predict():
        img = Image.open(a.image).convert("RGB")
        x = tf(img).unsqueeze(0)
        with torch.no_grad():
            return torch.softmax(model(x), dim=1)[0, 1].item()

    probability = predict()
    for _ in range(a.warmup):
        predict()
    times = []
    for _ in range(a.runs):
        t = time.perf_counter()
        predict()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    pct = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    print(json.dumps({"p50_ms": pct(0.5), "p95_ms": pct(0.95), "runs": a.runs,
                      "threads": a.threads, "probability_fake": probability,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
