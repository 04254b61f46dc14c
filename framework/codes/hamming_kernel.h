#pragma once
// One Hamming distance kernel: the inner loops of exact Hamming search for one instruction
// set. Each kernel lives in its own translation unit built with its own -m flags
// (hamming_kernel_scalar.cpp, _avx2.cpp, _avx512.cpp), and hamming_search.cpp picks one at
// run time from the CPU's flags, so one binary runs on every x86-64 machine.
//
// Kernel translation units include only this header and <immintrin.h> (the SIMD ones also
// hamming_kernel_simd_tail.inc, inside their namespace), and keep all their
// code in an anonymous namespace: an inline library function (std::vector, std::min, ...)
// compiled there with AVX-512 enabled could be the copy the linker keeps for the whole
// program, and then crash on a CPU without AVX-512.
#include <cstdint>

namespace hamster {

// Codes reach a kernel in one of three layouts: rows of `words` uint64 words (the
// BinaryCodes layout), or, for codes of at most 32 or 16 bits, one code per uint32 or
// uint16 lane, so that a vector register holds 2 or 4 times as many codes.
//
// The `below_*` functions scan n codes (n < 2^32) and report those whose distance to the
// query is below `limit`, in index order: their positions (0 .. n-1) go to pos[] and their
// distances to dist[], and the count is returned. pos and dist must have room for n entries.
struct HammingKernel {
  const char* name;
  // out[j] = distance from the query to row j, for j in 0 .. n-1.
  void (*distances)(const uint64_t* query, const uint64_t* rows, int64_t n, int words,
                    uint16_t* out);
  int64_t (*below_rows)(const uint64_t* query, const uint64_t* rows, int64_t n, int words,
                        int limit, uint32_t* pos, uint16_t* dist);
  int64_t (*below_u32)(uint32_t query, const uint32_t* codes, int64_t n, int limit, uint32_t* pos,
                       uint16_t* dist);
  int64_t (*below_u16)(uint16_t query, const uint16_t* codes, int64_t n, int limit, uint32_t* pos,
                       uint16_t* dist);
};

// The kernels built into this binary. Calling one the CPU cannot run is an illegal
// instruction: hamming_search.h hands out only those the CPU supports.
const HammingKernel& scalar_hamming_kernel();
#if defined(__x86_64__)
const HammingKernel& avx2_hamming_kernel();
const HammingKernel& avx512_hamming_kernel();
#endif

}  // namespace hamster
