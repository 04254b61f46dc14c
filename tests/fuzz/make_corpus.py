#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target: small valid files in each reader's format.

Run from anywhere: python3 tests/fuzz/make_corpus.py. The files go to
tests/fuzz/corpus/<target>/ and are committed; rerun after changing a format.
Deterministic (no randomness), standard library only.
"""
import gzip
import json
import struct
import zlib
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"


def put(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (folder / name).write_bytes(data)


# --- IDX: u32 little-endian length of the images file, images file, labels file.
def idx_images(count, rows, cols):
    pixels = bytes((i * 37) % 256 for i in range(count * rows * cols))
    return struct.pack(">IIII", 0x803, count, rows, cols) + pixels


def idx_labels(labels):
    return struct.pack(">II", 0x801, len(labels)) + bytes(labels)


def idx_input(images, labels):
    return struct.pack("<I", len(images)) + images + labels


put("idx", "raw-3x2x2", idx_input(idx_images(3, 2, 2), idx_labels([0, 1, 9])))
put("idx", "raw-5x3x4", idx_input(idx_images(5, 3, 4), idx_labels([4, 3, 2, 1, 0])))
put("idx", "gzip-2x4x4",
    idx_input(gzip.compress(idx_images(2, 4, 4), mtime=0),
              gzip.compress(idx_labels([7, 8]), mtime=0)))


# --- CIFAR-10: records of 1 label byte + 3072 pixel bytes (R, G, B planes of 32x32).
def cifar_record(label, shade):
    return bytes([label]) + bytes((shade + i) % 256 for i in range(3072))


put("cifar10", "one-record", cifar_record(2, 0))
put("cifar10", "two-records", cifar_record(4, 10) + cifar_record(9, 200))
# An odd first byte also makes the input batches.meta.txt (which then fails: one name).
put("cifar10", "odd-label", cifar_record(3, 5))


# --- npy (format 1.0): the types hamster writes.
def npy(descr, shape, payload):
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, dims)
    pad = (64 - (10 + len(header) + 1) % 64) % 64
    header = header + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload


put("npy", "float32-2x3", npy("<f4", (2, 3), struct.pack("<6f", 1, 2, 3, 4, 5, -6.5)))
put("npy", "labels-3x4", npy("|u1", (3, 4), bytes([1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 1])))
put("npy", "packed-codes-2x1", npy("<u8", (2, 1), struct.pack("<2Q", 0xFFFF, 0x8001)))
put("npy", "label-masks-1d", npy("<u8", (3,), struct.pack("<3Q", 1, 6, 8)))


# --- image lists: 'L' + a list over a.ppm and sub/b.ppm; otherwise the input is an image.
put("image_list", "list", "La.ppm 1 0\nsub/b.ppm 0 1\n\n")
put("image_list", "list-tabs", "La.ppm\t1 1 0\r\nsub/b.ppm 0 0 1\n")
put("image_list", "ppm", b"P6\n3 2\n255\n" + bytes(range(18)))


def png(width, height, rows):
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + row for row in rows)
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


put("image_list", "png", png(2, 2, [bytes(range(6)), bytes(range(100, 106))]))


def bmp(width, height):
    row = bytes(range(width * 3)) + b"\x00" * ((4 - width * 3 % 4) % 4)
    pixels = row * height
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 0, 0, 0, 0)
    return header + info + pixels


put("image_list", "bmp", bmp(3, 2))

# --- configs: the shipped ones that need no LibTorch, and one using most keys.
ROOT = CORPUS.parents[2]
put("config", "itq.yaml", (ROOT / "experiments" / "configs" / "itq.yaml").read_text())
put("config", "rerankers.yaml",
    (ROOT / "experiments" / "configs" / "rerankers.yaml").read_text().replace("dsh", "itq")
    .replace("{epochs: 20}", "{}"))
put("config", "every-key.yaml", """name: every-key
datasets:
  - {name: fashion-mnist, path: /tmp/fm, protocol: stratified}
  - {name: fmnist-mosaic, mosaics: 100, mosaic_seed: 3}
split: {query_per_class: 5, train_per_class: 20}
split_seed: 4
validation_per_class: 2
queries: validation
bits: [16, 24]
seeds: [0, 1]
shortlist: 50
threads: 1
parallel_fits: 1
training: {epochs: 2, batch_size: 10}
hashers:
  - lsh
  - name: itq
    params: {iterations: [5, 10]}
rerankers:
  - none
  - name: diffusion
    params: {kq: [10, 30], alpha: 0.9}
    zip: {gamma: [1, 3], k: [10, 20]}
metrics: {map_at: [all, 10], precision_at: [5], recall_at: [10], hamming_radius: 2}
output: /tmp/out
""")


# --- results.jsonl: records as `hamster run` writes them, made from the schema's sample
# record (tests/data/cell_record.json, which test_cell_record round-trips).
SAMPLE = json.loads((Path(__file__).resolve().parent.parent / "data" /
                     "cell_record.json").read_text())


def record(hasher, bits, seed, reranker, map_all, key):
    r = json.loads(json.dumps(SAMPLE))
    r.update({"cell_key": key, "cell": f"{hasher}/{bits}b/seed{seed}/{reranker}",
              "hasher": hasher, "bits": bits, "seed": seed, "reranker": reranker,
              "reranker_label": reranker, "metric_order": ["mAP@all", "P@10"],
              "metrics": {"mAP@all": map_all, "P@10": 0.5}})
    return r


records = [record("lsh", 16, 0, "none", 0.25, "a"), record("lsh", 16, 1, "none", 0.35, "b"),
           record("itq", 32, 0, "feature", 0.5, "c")]
put("results", "three-records", "".join(json.dumps(r) + "\n" for r in records))
put("results", "redone-cell", "".join(json.dumps(r) + "\n" for r in records[:1] * 2))

total = sum(f.stat().st_size for f in CORPUS.rglob("*") if f.is_file())
print(f"fuzz corpus: {sum(1 for f in CORPUS.rglob('*') if f.is_file())} files, {total} bytes "
      f"in {CORPUS}")
