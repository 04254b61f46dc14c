// Encoding runs in batches sized from the image (encode_batch_rows); the codes must not
// depend on how the items fell into batches, and the floats only in their last bits.
#include "framework/codes/binary_codes.h"
#include "framework/error.h"
#include "framework/hasher.h"
#include "hashers/backbone.h"
#include "hashers/torch_doctest.h"
#include "tests/hasher_helpers.h"
#include "tests/synthetic.h"

using namespace hamster;

TEST_CASE("encode batches hold about as much activation as 500 Fashion-MNIST images") {
  // conv1 gives 32 floats per pixel: 100,352 bytes per 28x28 image, 4x that at 56x56.
  CHECK(encode_batch_rows(*make_backbone("small-cnn", 1, 28, 28, 16)) == 500);
  CHECK(encode_batch_rows(*make_backbone("small-cnn", 1, 56, 56, 16)) == 130);
  CHECK(encode_batch_rows(*make_backbone("small-cnn-wide", 1, 56, 56, 16)) == 65);
  // vgg-bn runs fastest on batches 8x smaller (hashers/backbone.h).
  CHECK(encode_batch_rows(*make_backbone("vgg-bn", 1, 28, 28, 16)) == 62);
  CHECK(encode_batch_rows(*make_backbone("vgg-bn", 1, 56, 56, 16)) == 16);
  CHECK(encode_batch_rows(*make_backbone("small-cnn", 3, 32, 32, 16)) == 400);   // CIFAR-10
  CHECK(encode_batch_rows(*make_backbone("small-cnn", 3, 8, 8, 16)) == 500);     // at most
  CHECK(encode_batch_rows(*make_backbone("small-cnn", 3, 512, 512, 16)) == 16);  // at least
}

TEST_CASE("encoding gives the same codes however the items fall into batches") {
  // 150 mosaic-sized images: one call runs batches of 130 and 20; the pieces below put
  // the same items into batches of 40 and 110 instead.
  const Dataset d = test::synthetic_images(15, 10, 4, 56);
  const auto ids = test::iota_ids(d.size());
  auto dsh = test::make_hasher("dsh", 16, {{"epochs", "1"}, {"batch_size", "50"}});
  dsh->fit(d, ids, test::quiet(2));
  const Encoded whole = dsh->encode(d, ids, 2);
  int64_t row = 0;
  for (int64_t piece : {40, 110}) {
    const std::vector<int64_t> part(ids.begin() + row, ids.begin() + row + piece);
    const Encoded e = dsh->encode(d, part, 2);
    // Other batch shapes take other kernel blockings: float sums in another order, so the
    // last bits may differ (measured: at most 1.2e-6), never the codes.
    CHECK((e.real - whole.real.middleRows(row, piece)).cwiseAbs().maxCoeff() < 1e-5f);
    CHECK((e.features - whole.features.middleRows(row, piece)).cwiseAbs().maxCoeff() < 1e-5f);
    for (int64_t i = 0; i < piece; ++i)
      CHECK(hamming(e.codes.row(i), whole.codes.row(row + i), e.codes.words()) == 0);
    row += piece;
  }
}

namespace {

void check_folded_encoding(const std::string& name) {
  CAPTURE(name);
  auto net = make_backbone(name, 1, 28, 28, 16);
  net->initialise(3);
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  // A few training-mode passes move the running statistics away from 0 and 1, so the
  // fold has something to fold.
  net->train();
  for (int i = 0; i < 5; ++i) net->forward(torch::randn({32, 1, 28, 28}, gen) * 0.5 + 0.2);
  net->eval();
  const torch::Tensor images = torch::randn({40, 1, 28, 28}, gen);
  const BackboneOutput plain = net->forward(images);
  const BackboneOutput fast = net->infer(images);
  CHECK(net->named_buffers()["bn1.running_mean"].abs().max().item<float>() > 1e-3f);
  CHECK(net->named_buffers()["bn3.running_var"].sub(1).abs().max().item<float>() > 1e-3f);
  CHECK((plain.feature - fast.feature).abs().max().item<float>() < 1e-4f);
  CHECK((plain.hash - fast.hash).abs().max().item<float>() < 1e-4f);
}

}  // namespace

TEST_CASE("vgg-bn's encoding path (BatchNorm folded into the convolutions) matches forward") {
  check_folded_encoding("vgg-bn");
  check_folded_encoding("vgg-bn-deep");
}

TEST_CASE("vgg-bn-deep pools three times: 28x28 ends at 3x3, and too small an image is an error") {
  auto net = make_backbone("vgg-bn-deep", 1, 28, 28, 16);
  CHECK(net->named_parameters()["fc.weight"].size(1) == 128 * 3 * 3);
  CHECK(net->named_parameters()["conv6.weight"].size(0) == 128);
  CHECK(net->feature_width() == 256);
  CHECK_THROWS_WITH_AS(make_backbone("vgg-bn-deep", 1, 4, 4, 16),
                       "vgg-bn with 3 stages needs image sides of at least 8", Error);
}
