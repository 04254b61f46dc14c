#pragma once
// Eight floats as one vector value (GCC vector extension), for the few hot loops that the
// compiler left scalar when written over float arrays (measured 3 to 10x slower): AVX2 code
// (a [[gnu::target("avx2,fma")]] copy chosen at run time) gets one ymm register per value,
// baseline x86-64 code two SSE ones. aligned(4): a value may start at any float.

namespace hamster {

using Floats8 = float __attribute__((vector_size(32), aligned(4)));

}  // namespace hamster
