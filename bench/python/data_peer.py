"""The seed study's input pipeline, the peer `forensight bench data` compares against.

PIL decode + torchvision Resize((224, 224)), ToTensor, Normalize (ImageNet) through
torch.utils.data.DataLoader with N workers, over a folder of class subfolders. Warms up, then times
whole epochs until --min-seconds have passed, and prints one JSON object on stdout.
"""
import argparse
import json
import time

import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", required=True, help="folder with class subfolders (0_real, 1_fake)")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--warmup-batches", type=int, default=3)
    parser.add_argument("--min-seconds", type=float, default=3.0)
    parser.add_argument("--dump", help="write the first --dump-count images, normalised, as raw "
                        "float32 (N, 3, S, S) little-endian, in file order, then exit")
    parser.add_argument("--dump-count", type=int, default=4)
    args = parser.parse_args()

    transform = transforms.Compose([
        transforms.Resize((args.image_size, args.image_size)),
        transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ])
    dataset = datasets.ImageFolder(args.root, transform=transform)

    if args.dump:
        images = torch.stack([dataset[i][0] for i in range(args.dump_count)])
        images.numpy().astype("<f4").tofile(args.dump)
        print(json.dumps({"dumped": args.dump_count, "paths": [p for p, _ in dataset.samples[:args.dump_count]]}))
        return

    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True,
                        num_workers=args.workers, persistent_workers=args.workers > 0)
    # Warm-up: start the workers and touch the code paths.
    for i, (x, y) in enumerate(loader):
        if i + 1 >= args.warmup_batches:
            break
    images = 0
    epochs = 0
    start = time.perf_counter()
    while True:
        for x, y in loader:
            images += x.shape[0]
        epochs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= args.min_seconds:
            break
    print(json.dumps({
        "workers": args.workers,
        "batch_size": args.batch_size,
        "images": images,
        "epochs": epochs,
        "seconds": elapsed,
        "images_per_s": images / elapsed,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
