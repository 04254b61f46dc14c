// Training-time augmentation: what each setting does to an image, that it is seeded, and
// that a bad value is refused with the known ones.
#include "framework/error.h"
#include "hashers/augment.h"
#include "hashers/torch_doctest.h"

using namespace hamster;

TEST_CASE("augment parses its settings and refuses others") {
  CHECK(!parse_augmentation("none").any());
  CHECK(parse_augmentation("flip").flip);
  CHECK(parse_augmentation("flip").shift == 0);
  const Augmentation both = parse_augmentation("flip+shift3");
  CHECK(both.flip);
  CHECK(both.shift == 3);
  CHECK(parse_augmentation("shift2").shift == 2);
  CHECK(!both.erase);
  CHECK(parse_augmentation("erase").erase);
  const Augmentation all = parse_augmentation("flip+shift2+erase");
  CHECK((all.flip && all.shift == 2 && all.erase));
  for (const char* bad : {"flip+", "flipx", "shift", "shift9", "shift0", "rotate", "+flip",
                          "flip+flip", "erase+erase", "shift1+shift2", "none+flip"})
    CHECK_THROWS_WITH_AS(parse_augmentation(bad),
                         doctest::Contains("(known: none, or flip, shiftN with N in 1..8 and erase"),
                         Error);
}

TEST_CASE("augment shifts and flips each image and is seeded") {
  // One 1x4x4 image with distinct values, eight copies.
  torch::Tensor one = torch::arange(16, torch::kFloat32).reshape({1, 1, 4, 4});
  torch::Tensor batch = one.repeat({8, 1, 1, 1});

  Rng rng(1);
  CHECK(torch::equal(augment_batch(batch, parse_augmentation("none"), rng), batch));

  // Flip only: every output is the image or its mirror, and both occur in 8 draws.
  Rng flip_rng(7);
  torch::Tensor flipped = augment_batch(batch, parse_augmentation("flip"), flip_rng);
  int mirrored = 0;
  for (int i = 0; i < 8; ++i) {
    const bool same = torch::equal(flipped[i], one[0]);
    const bool mirror = torch::equal(flipped[i], one[0].flip({2}));
    CHECK((same || mirror));
    mirrored += mirror;
  }
  CHECK(mirrored > 0);
  CHECK(mirrored < 8);

  // Shift only: each output is the image moved by (dy, dx) in [-1, 1]^2, the uncovered
  // border at the background value -1; the pixel sum tells the moves apart from the image.
  Rng shift_rng(3);
  torch::Tensor shifted = augment_batch(batch, parse_augmentation("shift1"), shift_rng);
  int moved = 0;
  for (int i = 0; i < 8; ++i) {
    bool matched = false;
    for (int dy = -1; dy <= 1 && !matched; ++dy)
      for (int dx = -1; dx <= 1 && !matched; ++dx) {
        torch::Tensor expect = torch::full({1, 4, 4}, -1.0f);
        for (int y = 0; y < 4; ++y)
          for (int x = 0; x < 4; ++x) {
            const int sy = y + dy, sx = x + dx;
            if (sy >= 0 && sy < 4 && sx >= 0 && sx < 4) expect[0][y][x] = one[0][0][sy][sx];
          }
        if (torch::equal(shifted[i], expect)) matched = true, moved += (dy != 0 || dx != 0);
      }
    CHECK(matched);
  }
  CHECK(moved > 0);

  // Same seed, same augmented batch; another seed, another one.
  Rng a(11), b(11), c(12);
  const Augmentation both = parse_augmentation("flip+shift2");
  CHECK(torch::equal(augment_batch(batch, both, a), augment_batch(batch, both, b)));
  Rng d(11);
  CHECK(!torch::equal(augment_batch(batch, both, d), augment_batch(batch, both, c)));
}

TEST_CASE("augment erases one noise rectangle of 2% to 40% of an image, half the time") {
  // Sixteen 1x20x20 images at the value 5, outside the noise's range [-1, 1]: an erased
  // pixel is one that is no longer 5.
  const torch::Tensor batch = torch::full({16, 1, 20, 20}, 5.0f);
  Rng rng(5);
  const torch::Tensor erased = augment_batch(batch, parse_augmentation("erase"), rng);
  CHECK(torch::equal(batch, torch::full({16, 1, 20, 20}, 5.0f)));  // the input is untouched
  int whole = 0;
  for (int i = 0; i < 16; ++i) {
    const torch::Tensor changed = erased[i][0] != 5.0f;
    const int64_t count = changed.sum().item<int64_t>();
    if (count == 0) {
      ++whole;
      continue;
    }
    // The changed pixels form one rectangle: the box around them is full.
    const torch::Tensor rows = changed.any(1).nonzero(), cols = changed.any(0).nonzero();
    const int64_t height = rows.max().item<int64_t>() - rows.min().item<int64_t>() + 1;
    const int64_t width = cols.max().item<int64_t>() - cols.min().item<int64_t>() + 1;
    CHECK(count == height * width);
    CHECK(count >= 6);    // lround of sqrt(0.02 x 400) squared, the smallest rectangle
    CHECK(count <= 180);  // 40% of 400, with rounding up on both sides
    const torch::Tensor noise = erased[i][0].masked_select(changed);
    CHECK(noise.min().item<float>() >= -1.0f);
    CHECK(noise.max().item<float>() <= 1.0f);
  }
  CHECK(whole > 0);
  CHECK(whole < 16);

  // Seeded: the same Rng state gives the same rectangles and noise.
  Rng a(9), b(9);
  const Augmentation erase = parse_augmentation("flip+shift1+erase");
  CHECK(torch::equal(augment_batch(batch, erase, a), augment_batch(batch, erase, b)));
}
