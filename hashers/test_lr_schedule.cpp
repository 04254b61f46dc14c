#include <cmath>

#include "framework/error.h"
#include "hashers/torch_doctest.h"
#include "hashers/torch_hasher.h"

using namespace hamster;

TEST_CASE("lr_schedule: constant keeps lr - cosine falls from lr through lr/2 to near 0") {
  for (int e = 1; e <= 10; ++e) CHECK(scheduled_lr("constant", 0.001, e, 10) == 0.001);
  CHECK(scheduled_lr("cosine", 0.001, 1, 10) == doctest::Approx(0.001));
  CHECK(scheduled_lr("cosine", 0.001, 6, 10) == doctest::Approx(0.0005));
  // Last epoch: (1 + cos(0.9 pi)) / 2 = 0.0244717.
  CHECK(scheduled_lr("cosine", 0.001, 10, 10) == doctest::Approx(0.001 * 0.0244717));
  for (int e = 1; e < 10; ++e)
    CHECK(scheduled_lr("cosine", 0.001, e + 1, 10) < scheduled_lr("cosine", 0.001, e, 10));
  CHECK_THROWS_WITH_AS(scheduled_lr("step", 0.001, 1, 10),
                       "unknown lr_schedule 'step' (known: constant, cosine)", Error);
}
