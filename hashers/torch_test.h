#pragma once
// Test files that use LibTorch include this in place of <doctest/doctest.h>. Debian's
// LibTorch brings glog, whose CHECK(condition) and CHECK_EQ.. macros silently replace
// doctest's when torch is included after doctest: a passing check is then not counted and a
// failing one aborts the whole test binary. Including torch first and dropping glog's names
// leaves doctest's.
#include <torch/torch.h>

#undef CHECK
#undef CHECK_EQ
#undef CHECK_NE
#undef CHECK_LT
#undef CHECK_LE
#undef CHECK_GT
#undef CHECK_GE

#include <doctest/doctest.h>
