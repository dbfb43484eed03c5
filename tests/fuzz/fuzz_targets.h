// The parsers under fuzzing, one function per target, shared by the libFuzzer entry points
// (fuzz_*.cpp) and the regression test that replays every committed input in the normal
// build (tests/io/test_fuzz_corpus.cpp). Each takes arbitrary bytes and must either accept
// them or throw oodflow::Error; anything else (a crash, a sanitizer report, another exception,
// a hang) is a bug.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace oodflow::fuzz {

void safetensors(const std::uint8_t* data, std::size_t size);
void npy(const std::uint8_t* data, std::size_t size);
void idx(const std::uint8_t* data, std::size_t size);
void feature_file(const std::uint8_t* data, std::size_t size);
void scores(const std::uint8_t* data, std::size_t size);
void image_list(const std::uint8_t* data, std::size_t size);

/// Target names and functions, in one list for the regression test and scripts/fuzz.sh.
struct Target {
  const char* name;
  void (*run)(const std::uint8_t*, std::size_t);
};
const std::vector<Target>& targets();

}  // namespace oodflow::fuzz
