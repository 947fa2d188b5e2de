"""The seed study's Python training loop, timed for one epoch: an image-folder dataset read with PIL,
torchvision Resize((224,224)) + ToTensor + Normalize, torch DataLoader with N workers, torchvision
resnet18 (2 classes), Adam 1e-4, cross-entropy. Prints one JSON object.

Run by `forensight bench train` in the same run as the C++ trainer, on the same files and threads."""
import argparse
import csv
import json
import os
import time

import torch
import torchvision
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms


class FileList(Dataset):
    def __init__(self, items, tf):
        self.items, self.tf = items, tf

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        path, label = self.items[i]
        return self.tf(Image.open(path).convert("RGB")), label


def read_manifest(csv_path, limit):
    root = os.path.dirname(os.path.abspath(csv_path))
    items = []
    with open(csv_path, newline="") as f:
        for row in csv.DictReader(f):
            items.append((os.path.join(root, row["file_name"]), int(row["label"])))
    return items[:limit] if limit > 0 else items


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", required=True, help="train.csv in the Kaggle layout")
    ap.add_argument("--images", type=int, default=0, help="use the first N images (0 = all)")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    tf = transforms.Compose([
        transforms.Resize((a.size, a.size)), transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    data = FileList(read_manifest(a.csv, a.images), tf)
    loader = DataLoader(data, batch_size=a.batch_size, shuffle=True, num_workers=a.workers,
                        drop_last=False)
    model = torchvision.models.resnet18(num_classes=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    t = time.perf_counter()
    seen = 0
    for x, y in loader:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        seen += x.shape[0]
    seconds = time.perf_counter() - t
    print(json.dumps({"epoch_s": seconds, "images": seen, "images_per_s": seen / seconds,
                      "threads": a.threads, "workers": a.workers, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
