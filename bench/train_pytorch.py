#!/usr/bin/python3
"""The reference side of bench_training: the same small CNN, loss, optimiser, batch size
and split as hamster's deep hashers, written in plain PyTorch (Debian's python3-torch).

It trains DSH or DPSH on Fashion-MNIST's fmnist-1 training images (read from a hamster
split.txt, so both sides see the same items), reports training images/s, then encodes the
queries and the database and prints mAP@all with hamster's tie rule (equal distances in
database index order), so speed is compared at equal accuracy.

    /usr/bin/python3 bench/train_pytorch.py --split results/quickstart/split.txt \
        --hasher dsh --bits 32 --epochs 20 --threads 1

Exits with status 3 and a message when torch is not installed.
"""
import argparse
import gzip
import os
import sys
import time

import numpy as np

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("train_pytorch.py: python3-torch is not installed (apt-get install python3-torch); "
          "skipping the PyTorch side", file=sys.stderr)
    sys.exit(3)

FMNIST = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_fashion_mnist():
    """The 70,000 images pooled as hamster pools them: training file first, then test."""
    images = np.concatenate([read_idx(f"{FMNIST}/train-images-idx3-ubyte.gz"),
                             read_idx(f"{FMNIST}/t10k-images-idx3-ubyte.gz")])
    labels = np.concatenate([read_idx(f"{FMNIST}/train-labels-idx1-ubyte.gz"),
                             read_idx(f"{FMNIST}/t10k-labels-idx1-ubyte.gz")])
    return images, labels.astype(np.int64)


def read_split(path):
    parts = {}
    with open(path) as f:
        for line in f:
            key, *values = line.split()
            parts[key] = values
    return {k: np.array(v, np.int64) for k, v in parts.items() if k not in ("protocol", "seed")}


class SmallCnn(nn.Module):
    """hashers/backbone.cpp's small-cnn: conv5-32, pool, conv5-64, pool, fc-500, hash + BN."""

    def __init__(self, bits):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.fc = nn.Linear(64 * 7 * 7, 500)
        self.hash = nn.Linear(500, bits)
        self.hash_bn = nn.BatchNorm1d(bits)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2)).flatten(1)
        return self.hash_bn(self.hash(F.relu(self.fc(x))))


def similarity(a, b):
    return (a[:, None] == b[None, :]).float()


class Bank:
    """hamster's OutputBank: the latest output of every training item, held fixed."""

    def __init__(self, n, bits, labels):
        self.outputs = torch.zeros(n, bits)
        self.seen = torch.zeros(n, dtype=torch.bool)
        self.labels = labels

    def update(self, idx, u):
        self.outputs[idx] = u.detach()
        self.seen[idx] = True

    def others(self):
        return self.outputs[self.seen], self.labels[self.seen]


def dsh_loss(u, y, v, yv, bits, alpha=0.01):
    """DSH with hamster's defaults: margin 2 * bits, alpha 0.01, mean over pairs."""
    s = similarity(y, yv)
    d = (u.pow(2).sum(1, keepdim=True) + v.pow(2).sum(1)[None] - 2 * u @ v.t()).clamp_min(0)
    pair = 0.5 * s * d + 0.5 * (1 - s) * F.relu(2 * bits - d)
    reg = (u.abs() - 1).abs().sum(1).mean()
    return pair.mean() + alpha * reg


def dpsh_loss(u, y, v, yv, eta):
    s = similarity(y, yv)
    theta = 0.5 * u @ v.t()
    pair = (F.softplus(theta) - s * theta).mean()
    quant = (torch.sign(u).detach() - u).pow(2).sum(1).mean()
    return pair + eta * quant


def to_tensor(images):
    return torch.from_numpy(images.astype(np.float32) * (2.0 / 255.0) - 1.0)[:, None]


def encode(net, images):
    net.eval()
    out = []
    with torch.no_grad():
        for b in range(0, len(images), 500):
            out.append(net(to_tensor(images[b:b + 500])).numpy())
    return np.concatenate(out) > 0


def map_all(q_codes, db_codes, q_labels, db_labels):
    """mAP@all, equal Hamming distances in database index order (docs/protocol.md)."""
    q = q_codes.astype(np.float32) * 2 - 1
    db = db_codes.astype(np.float32) * 2 - 1
    aps = []
    for i in range(len(q)):
        dist = (q.shape[1] - db @ q[i]) / 2
        order = np.argsort(dist, kind="stable")
        rel = (db_labels[order] == q_labels[i]).astype(np.float64)
        hits = np.cumsum(rel)
        if hits[-1] == 0:
            aps.append(0.0)
            continue
        aps.append(float((hits / np.arange(1, len(rel) + 1) * rel).sum() / hits[-1]))
    return float(np.mean(aps))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--split", required=True, help="a hamster split.txt for fmnist-1")
    p.add_argument("--hasher", choices=["dsh", "dpsh"], default="dsh")
    p.add_argument("--bits", type=int, default=32)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--eta", type=float, default=0.002,
                   help="DPSH quantization weight (hamster's default)")
    p.add_argument("--no-bank", action="store_true",
                   help="pairs within the batch only (hamster: memory_bank: false)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-eval", action="store_true", help="time training only")
    a = p.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    images, labels = load_fashion_mnist()
    split = read_split(a.split)
    train = split["train"]
    x, y = to_tensor(images[train]), torch.from_numpy(labels[train])
    net = SmallCnn(a.bits)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    rng = np.random.default_rng(a.seed)
    n = len(train)
    bank = Bank(n, a.bits, y)
    start = time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        net.train()
        order = torch.from_numpy(rng.permutation(n))
        total, batches = 0.0, 0
        for b in range(0, n - 1, a.batch_size):
            idx = order[b:b + a.batch_size]
            u = net(x[idx])
            v, yv = u, y[idx]
            if not a.no_bank:
                bank.update(idx, u)
                v, yv = bank.others()
            if a.hasher == "dsh":
                loss = dsh_loss(u, y[idx], v, yv, a.bits)
            else:
                loss = dpsh_loss(u, y[idx], v, yv, a.eta)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, batches = total + loss.item(), batches + 1
        elapsed = time.perf_counter() - start
        print(f"  {a.hasher} {a.bits}b: epoch {epoch}/{a.epochs} loss {total / batches:.4f}"
              f"  {elapsed:.1f}s", file=sys.stderr)
    seconds = time.perf_counter() - start
    print(f"train_img_per_s {n * a.epochs / seconds:.1f}")
    if a.no_eval:
        return
    db = split["database"]
    q = split["query"]
    m = map_all(encode(net, images[q]), encode(net, images[db]), labels[q], labels[db])
    print(f"map_all {m:.4f}")


if __name__ == "__main__":
    main()
