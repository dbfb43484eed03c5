// Helpers shared by the tests: scratch folders and small files.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "oodflow/core/error.h"
#include "oodflow/io/feature_file.h"

namespace oodflow::test {

/// A fresh folder removed with its contents at scope exit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  /// Names of the files in the folder, sorted.
  std::vector<std::string> files() const;

 private:
  std::string dir_;
};

void write_bytes(const std::string& path, const std::string& bytes);
std::string read_bytes(const std::string& path);
bool file_exists(const std::string& path);

/// Writes an F32 feature file of `rows` x `dim` values.
void write_features(const std::string& path, const std::vector<float>& values, std::int64_t rows,
                    std::int64_t dim);

/// Expects `fn` to throw an oodflow::Error whose message is one line containing every needle.
template <typename Fn>
void expect_error(Fn&& fn, std::initializer_list<std::string> needles) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one containing '" << *needles.begin() << "'";
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const auto& needle : needles) {
      EXPECT_NE(what.find(needle), std::string::npos) << "'" << needle << "' not in: " << what;
    }
    EXPECT_EQ(what.find('\n'), std::string::npos) << "not one line: " << what;
  }
}

/// Scores of every row of `file` by the model file at `model_path`, through the pipeline's
/// one scoring path (chunks of `batch_size` rows), on the CPU.
std::vector<double> model_scores(const std::string& model_path, const io::FeatureFile& file,
                                 std::int64_t batch_size = 4096);

/// `n` draws of N(mean, 1) rounded to quarters (many ties), seeded.
std::vector<double> rounded_normals(std::size_t n, double mean, std::uint64_t seed);

/// Path of a committed test data file.
std::string data_path(const std::string& name);

/// Stand-ins for ODIN scores (which need images and a backbone): the max softmax at T = 1000
/// of each row of `logits` [rows, classes], with the settings record that goes with them.
std::vector<double> odin_standin(const std::vector<float>& logits, std::int64_t classes);
inline constexpr const char* kOdinStandinSettings =
    R"({"temperature":1000.0,"epsilon":0.0014,"std":[]})";

}  // namespace oodflow::test
