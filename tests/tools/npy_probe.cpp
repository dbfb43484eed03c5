// Reads .npy files with oodflow's reader and prints one JSON line per file, for the differential
// test against numpy (tests/scripts/npy_differential.py):
//   {"ok":true,"dtype":"F32","shape":[2,3],"values":["3ff0000000000000",...]}
//   {"ok":false,"error":"..."}
// Values are the elements in C order converted to float64, as the 16 hex digits of their bits
// ("nan" for any NaN), so the comparison is exact.
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "oodflow/core/error.h"
#include "oodflow/io/npy.h"

namespace {

nlohmann::json probe(const std::string& path) {
  try {
    const oodflow::io::NpyFile file(path);
    const oodflow::io::TensorView& a = file.array();
    std::vector<double> values(static_cast<std::size_t>(a.numel()));
    oodflow::io::convert_to_double(a.dtype, a.data, values.size(), values.data());
    nlohmann::json out = {{"ok", true},
                          {"dtype", oodflow::io::dtype_name(a.dtype)},
                          {"shape", a.shape},
                          {"values", nlohmann::json::array()}};
    for (double v : values) {
      std::uint64_t bits;
      std::memcpy(&bits, &v, sizeof bits);
      char hex[17];
      std::snprintf(hex, sizeof hex, "%016" PRIx64, bits);
      out["values"].push_back(std::isnan(v) ? "nan" : hex);
    }
    return out;
  } catch (const oodflow::Error& e) {
    return {{"ok", false}, {"error", e.what()}};
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: npy_probe FILE.npy...\n");
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    // Replace, not throw, on invalid UTF-8 in messages: a header may hold any bytes.
    std::printf(
        "%s\n",
        probe(argv[i]).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  }
  return 0;
}
