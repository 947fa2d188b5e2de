"""The Python peer of `forensight bench serve`: the same ResNet18 served the way Python users
usually serve a PyTorch model — FastAPI on uvicorn (one worker), PIL + torchvision transforms
(Resize((S, S)), ToTensor, Normalize), torchvision's resnet18 with the checkpoint's weights, one
image per forward pass inside the request handler, at the same intra-op threads as ours.

Routes, as `forensight serve` has them: POST /v1/detect (the image as the raw body) answers
{"models": [{"probability_fake": P, "label": 0|1, ...}]}; GET /readyz answers once the model is
loaded. Runs until SIGTERM/SIGINT.

  serve_peer.py --weights r18.safetensors --port 8123 --threads 2 [--image-size 224]
"""
import argparse
import io
import time

import torch
import torchvision
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from PIL import Image, UnidentifiedImageError
from safetensors.torch import load_file
from torchvision import transforms

NORMALIZATION = {
    "imagenet": ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    "half": ([0.5] * 3, [0.5] * 3),
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", required=True,
                   help="torchvision resnet18 state dict (2 classes) as safetensors")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    p.add_argument("--image-size", type=int, default=224, help="model input side (default 224)")
    p.add_argument("--normalization", default="imagenet", choices=sorted(NORMALIZATION))
    p.add_argument("--threshold", type=float, default=0.5)
    return p.parse_args()


def make_app(a):
    torch.set_num_threads(a.threads)
    model = torchvision.models.resnet18(num_classes=2)
    model.load_state_dict(load_file(a.weights), strict=True)
    model.eval()
    mean, std = NORMALIZATION[a.normalization]
    transform = transforms.Compose([
        transforms.Resize((a.image_size, a.image_size)),
        transforms.ToTensor(),
        transforms.Normalize(mean, std),
    ])
    with torch.inference_mode():  # the first forward pass allocates; not a client's cost
        model(torch.zeros(1, 3, a.image_size, a.image_size))

    app = FastAPI()

    @app.get("/readyz")
    def readyz():
        return {"status": "ready"}

    @app.post("/v1/detect")
    async def detect(request: Request):
        start = time.perf_counter()
        body = await request.body()
        try:
            image = Image.open(io.BytesIO(body)).convert("RGB")
        except (UnidentifiedImageError, OSError) as e:
            raise HTTPException(status_code=400, detail=f"not a readable image: {e}")
        x = transform(image).unsqueeze(0)  # (1, 3, S, S)
        with torch.inference_mode():
            probability = torch.softmax(model(x), dim=1)[0, 1].item()
        return {"models": [{"model": "resnet18", "precision": "fp32 (PyTorch eager)",
                            "probability_fake": probability,
                            "label": int(probability >= a.threshold)}],
                "milliseconds": (time.perf_counter() - start) * 1e3}

    return app


def main():
    a = parse_args()
    app = make_app(a)
    uvicorn.run(app, host=a.host, port=a.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
