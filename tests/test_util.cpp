#include "test_util.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "oodflow/io/feature_file.h"
#include "oodflow/pipeline/model.h"

namespace oodflow::test {

TempDir::TempDir() {
  std::string pattern = "/tmp/oodflow_test_XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::vector<std::string> TempDir::files() const {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir_.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

void write_features(const std::string& path, const std::vector<float>& values, std::int64_t rows,
                    std::int64_t dim) {
  io::FeatureFileContents c;
  c.rows = rows;
  c.dim = dim;
  c.features = values.data();
  io::write_feature_file(path, c);
}

std::vector<double> model_scores(const std::string& model_path, const io::FeatureFile& file,
                                 std::int64_t batch_size) {
  const pipeline::Model model = pipeline::load_model(model_path, "cpu");
  std::vector<double> out;
  pipeline::score_in_chunks(model, file, batch_size,
                            [&](const detect::FeatureSet&, const std::vector<double>& scores,
                                const std::vector<std::int64_t>&) {
                              out.insert(out.end(), scores.begin(), scores.end());
                            });
  return out;
}

std::vector<double> rounded_normals(std::size_t n, double mean, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(mean, 1.0);
  std::vector<double> v(n);
  for (double& x : v) x = std::round(normal(rng) * 4) / 4;  // many ties
  return v;
}

std::string data_path(const std::string& name) {
  return std::string(OODFLOW_TEST_DATA_DIR) + "/" + name;
}

std::vector<double> odin_standin(const std::vector<float>& logits, std::int64_t classes) {
  std::vector<double> out;
  for (std::size_t i = 0; i + classes <= logits.size(); i += static_cast<std::size_t>(classes)) {
    const float* z = logits.data() + i;
    const double top = *std::max_element(z, z + classes);
    double sum = 0;
    for (std::int64_t c = 0; c < classes; ++c) sum += std::exp((z[c] - top) / 1000.0);
    out.push_back(1 / sum);
  }
  return out;
}

}  // namespace oodflow::test
