// Helpers shared by the tests: scratch folders and small files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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

/// Path of a committed test data file.
std::string data_path(const std::string& name);

}  // namespace oodflow::test
