#include "framework/hasher.h"

#include <iostream>

namespace hamster {

void FitContext::print(const std::string& line) const {
  if (log)
    log(line);
  else
    std::cerr << line << '\n';
}

std::vector<ParamSpec> training_params() {
  return {
      {"backbone", "small-cnn",
       "network trunk (hashers/backbone.h; a deep hasher's `hamster list` names them)"},
      {"epochs", "40", "passes over the training set"},
      {"batch_size", "64", "mini-batch size"},
      {"optimiser", "adam", "adam or sgd (momentum 0.9)"},
      {"lr", "0.001", "learning rate"},
      {"lr_schedule", "constant",
       "constant, or cosine: epoch e of E runs at lr (1 + cos(pi (e - 1) / E)) / 2",
       /*keyed_at_default=*/false},
      {"weight_decay", "0", "weight decay"},
      {"weight_average", "0",
       "decay of an exponential moving average of the weights that model selection "
       "evaluates and the model keeps (0 = off, the last weights; 0.999 averages over "
       "about the last 1,000 steps)",
       /*keyed_at_default=*/false},
      {"dropout", "0",
       "probability of dropping each deep-feature unit before the hash layer, in training",
       /*keyed_at_default=*/false},
      {"augment", "none",
       "training images: none, or flip, shiftN and erase joined by '+' (random horizontal "
       "flip, random shift by up to N pixels, random erasing of a rectangle)",
       /*keyed_at_default=*/false},
      {"select_every", "5",
       "with a validation split: evaluate every this many epochs (and at the last) and keep "
       "the best epoch's weights; 0 = keep the last epoch"},
      {"device", "cpu", "cpu or cuda (cuda needs a CUDA build of LibTorch)"},
  };
}

}  // namespace hamster
