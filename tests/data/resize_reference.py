"""torchvision reference for the resize tests: reads IN.png with PIL and writes the raw RGB bytes
of torchvision transforms applied to it. Usage: resize_reference.py IN.png OUT_DIR"""
import sys
from pathlib import Path

from PIL import Image
from torchvision import transforms

src, out = Image.open(sys.argv[1]).convert("RGB"), Path(sys.argv[2])
cases = {
    "resize_224x224": transforms.Resize((224, 224)),
    "resize_w700_h600": transforms.Resize((600, 700)),  # upscale, different factors per axis
    "resize_w97_h301": transforms.Resize((301, 97)),    # down in x, up in y
    "center_256_224": transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)]),
}
for name, transform in cases.items():
    (out / f"{name}.rgb").write_bytes(transform(src).tobytes())
print("torchvision references written to", out)
