#pragma once
// For tests that use LibTorch: Debian's LibTorch logs through glog, whose CHECK, CHECK_EQ, ...
// macros (abort on failure) would silently replace doctest's of the same names in whichever
// header comes second. Include this instead of <doctest/doctest.h>: torch first, glog's short
// names removed, then doctest's.
#include <torch/torch.h>

#undef CHECK
#undef CHECK_EQ
#undef CHECK_NE
#undef CHECK_LE
#undef CHECK_LT
#undef CHECK_GE
#undef CHECK_GT

#include <doctest/doctest.h>
