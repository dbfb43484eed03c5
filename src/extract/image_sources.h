// Internal: the constructors of each kind of image source, chosen by open_image_source().
#pragma once

#include <memory>
#include <string>

#include "oodflow/extract/image_source.h"

namespace oodflow::extract {

std::unique_ptr<ImageSource> open_folder_source(const std::string& path);
/// `root`: the folder relative paths are resolved against; empty = the list file's folder.
std::unique_ptr<ImageSource> open_list_source(const std::string& path, const std::string& root);
std::unique_ptr<ImageSource> open_idx_source(const std::string& path,
                                             const std::string& labels_path);
std::unique_ptr<ImageSource> open_npy_source(const std::string& path,
                                             const std::string& labels_path);

}  // namespace oodflow::extract
