# The instruction set the library is built for.
#
# simdjson's DOM parser picks its SIMD kernel at run time, but its on-demand parser (which reads the
# safetensors header in one pass) is compiled into our code and uses the best kernel the *compiler
# flags* allow: with none, its portable scalar one, about half as fast. So on x86-64, when the
# build machine runs x86-64-v3 code (AVX2, BMI, LZCNT; Haswell, 2013, and later) and the compiler
# takes the flags, everything is built for that level, PCLMUL included (what simdjson's Haswell
# kernel needs). The whole project gets the same flags, so no inline function is compiled two ways.
# STKIT_X86_64_V3=OFF builds for any x86-64 (slower header parsing, nothing else changes).
option(STKIT_X86_64_V3 "Build for x86-64-v3 (+PCLMUL) when the build machine runs it" ON)

if(STKIT_X86_64_V3 AND CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  include(CheckCXXSourceRuns)
  set(CMAKE_REQUIRED_FLAGS "-march=x86-64-v3 -mpclmul")
  check_cxx_source_runs([=[
    #include <immintrin.h>
    int main() {
      // Instructions of every kind the level adds: AVX2, BMI2, LZCNT, and PCLMUL.
      __m256i a = _mm256_set1_epi32(3);
      __m256i b = _mm256_add_epi32(a, a);
      unsigned long long x = _pdep_u64(0xff, 0xf0f0);
      __m128i c = _mm_clmulepi64_si128(_mm_set1_epi64x(3), _mm_set1_epi64x(5), 0);
      return (_mm256_extract_epi32(b, 0) == 6 && x != 0 && _lzcnt_u64(1) == 63 && _mm_extract_epi64(c, 0) == 15) ? 0 : 1;
    }]=] STKIT_HOST_RUNS_X86_64_V3)
  unset(CMAKE_REQUIRED_FLAGS)
  if(STKIT_HOST_RUNS_X86_64_V3)
    add_compile_options(-march=x86-64-v3 -mpclmul)
    message(STATUS "stkit: building for x86-64-v3 (+PCLMUL); STKIT_X86_64_V3=OFF for any x86-64")
  else()
    message(STATUS "stkit: this machine does not run x86-64-v3 code; building for any x86-64")
  endif()
endif()
