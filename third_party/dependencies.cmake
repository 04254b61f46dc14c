# Every dependency the build takes from outside the tree, found in one place.
# Packages with a CMake config (LibTorch, TBB, fmt, Eigen, yaml-cpp, CLI11, nlohmann_json,
# doctest) come through find_package, so a conda environment or a PyTorch's own LibTorch
# on CMAKE_PREFIX_PATH works as well as Debian's. The header-only hnswlib and stb, and
# Spectra where its config file is missing, get small imported targets here, searched on
# the same prefixes.
# HAMSTER_WITH_TORCH=OFF (sanitizer and fuzz builds) needs no LibTorch at all.
if(HAMSTER_WITH_TORCH)
  find_package(Torch REQUIRED)
endif()
find_package(TBB REQUIRED)
find_package(fmt REQUIRED)
find_package(Eigen3 REQUIRED NO_MODULE)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(ZLIB REQUIRED)
find_package(doctest REQUIRED)

# CBLAS (libblas-dev) for Gram matrices (framework/graph/gram.h): at run time Debian's
# alternatives give OpenBLAS when libopenblas0-pthread is installed. Without it (a machine
# with no CBLAS headers, such as a GPU machine's PyTorch), the same products run on Eigen:
# slower, equal up to rounding. The `cblas` target carries whichever it is.
find_package(BLAS)
find_path(CBLAS_INCLUDE_DIR cblas.h DOC "folder holding cblas.h")
add_library(cblas INTERFACE)
if(BLAS_FOUND AND CBLAS_INCLUDE_DIR)
  target_compile_definitions(cblas INTERFACE HAMSTER_HAVE_CBLAS)
  target_include_directories(cblas SYSTEM INTERFACE ${CBLAS_INCLUDE_DIR})
  target_link_libraries(cblas INTERFACE ${BLAS_LIBRARIES})
else()
  message(STATUS "hamster: no CBLAS found; Gram matrices use Eigen's product")
endif()

# hnswlib (libhnswlib-dev, or `pip install hnswlib`'s headers, or a clone): headers only.
find_path(HNSWLIB_INCLUDE_DIR hnswlib/hnswlib.h REQUIRED
  DOC "folder holding hnswlib/hnswlib.h")
add_library(hnswlib INTERFACE)
target_include_directories(hnswlib SYSTEM INTERFACE ${HNSWLIB_INCLUDE_DIR})

# Spectra (libspectra-dev): headers only; Debian ships a config file, a clone may not.
find_path(SPECTRA_INCLUDE_DIR Spectra/SymEigsSolver.h REQUIRED
  DOC "folder holding Spectra/SymEigsSolver.h")
add_library(spectra INTERFACE)
target_include_directories(spectra SYSTEM INTERFACE ${SPECTRA_INCLUDE_DIR})

# stb (libstb-dev): the headers under include/stb, the implementations in libstb. Where
# only the headers exist (a clone), the three implementations hamster uses are compiled here.
find_path(STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb REQUIRED
  DOC "folder holding stb_image.h")
find_library(STB_LIBRARY stb)
if(STB_LIBRARY)
  add_library(stb INTERFACE)
  target_link_libraries(stb INTERFACE ${STB_LIBRARY})
else()
  file(WRITE ${CMAKE_BINARY_DIR}/stb_image_impl.c
    "#define STB_IMAGE_IMPLEMENTATION\n#include <stb_image.h>\n"
    "#define STB_IMAGE_RESIZE_IMPLEMENTATION\n#include <stb_image_resize.h>\n"
    "#define STB_IMAGE_WRITE_IMPLEMENTATION\n#include <stb_image_write.h>\n")
  enable_language(C)
  add_library(stb STATIC ${CMAKE_BINARY_DIR}/stb_image_impl.c)
  target_include_directories(stb PRIVATE ${STB_INCLUDE_DIR})
endif()
target_include_directories(stb SYSTEM INTERFACE ${STB_INCLUDE_DIR})
