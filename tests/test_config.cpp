// Config reading on the plugins that need no LibTorch (so the sanitizer build runs it too).
#include <doctest/doctest.h>

#include "framework/error.h"
#include "framework/experiment/config.h"

using namespace hamster;

TEST_CASE("config: a list or mapping where a key or name belongs is an Error naming where") {
  // Found by fuzz_config: `params: {[10, 20]}` (a flow list as a key) escaped as a yaml-cpp
  // conversion exception instead of an Error.
  const std::string head = "name: t\nrerankers: [none]\n";
  CHECK_THROWS_WITH_AS(
      parse_config(head + "hashers: [{name: itq, params: {[10, 20]}}]\n", "k.yaml"),
      doctest::Contains("k.yaml: hashers[0].params: expected a plain name, got"), Error);
  CHECK_THROWS_WITH_AS(parse_config(head + "hashers: [{name: [itq]}]\n", "k.yaml"),
                       doctest::Contains("k.yaml: hashers[0].name: expected a plain name"), Error);
  CHECK_THROWS_WITH_AS(parse_config(head + "hashers: [lsh]\ntraining: {[1]: 2}\n", "k.yaml"),
                       doctest::Contains("k.yaml: training: expected a plain name"), Error);
  CHECK_THROWS_WITH_AS(parse_config("{a: b}: 1\n" + head + "hashers: [lsh]\n", "k.yaml"),
                       doctest::Contains("k.yaml: (top level): expected a plain name"), Error);
  CHECK_THROWS_WITH_AS(
      parse_config(head + "hashers: [lsh]\ndataset: {name: fashion-mnist, {x: 1}: 2}\n", "k.yaml"),
      doctest::Contains("k.yaml: dataset: expected a plain name"), Error);
  CHECK_THROWS_WITH_AS(
      parse_config("name: t\nhashers: [lsh]\nrerankers: [{name: diffusion, zip: {[k]: [1]}}]\n",
                   "k.yaml"),
      doctest::Contains("k.yaml: rerankers[0].zip: expected a plain name"), Error);
  // The same grid with plain names parses.
  CHECK(parse_config(head + "hashers: [{name: itq, params: {iterations: [10, 20]}}]\n", "k.yaml")
            .hashers.size() == 2);
}
