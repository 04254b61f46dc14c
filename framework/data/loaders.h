#pragma once
// Loaders for the real on-disk formats. Every error names the file and what was wrong.
#include <filesystem>
#include <string>

#include "framework/data/dataset.h"

namespace hamster {

// IDX files (MNIST / Fashion-MNIST), gzip-compressed or raw (detected by content).
// images: magic 0x00000803, N, H, W, then N*H*W bytes. labels: magic 0x00000801, N, then
// N bytes. Errors: missing file, wrong magic, truncated data, count mismatch, label >= num_classes.
Dataset load_idx(const std::filesystem::path& images, const std::filesystem::path& labels,
                 const std::string& name, int num_classes = 10);

// Where the Debian package dataset-fashion-mnist installs the files.
constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// All 70,000 Fashion-MNIST images: the 60,000 training images first, then the 10,000 test
// images (official_train_size = 60000). Accepts "<stem>.gz" or the uncompressed "<stem>".
Dataset load_fashion_mnist(const std::filesystem::path& dir = kFashionMnistDir);

// CIFAR-10 binary version: data_batch_1..5.bin then test_batch.bin, each record 1 label
// byte + 3072 pixel bytes (R, G, B planes, 32x32 row-major). official_train_size = number
// of training records. Class names from batches.meta.txt when present.
Dataset load_cifar10(const std::filesystem::path& dir);

}  // namespace hamster
