// Image preprocessing before the backbone, as torchvision's eval transforms do it: channel
// handling, Resize (shorter side), CenterCrop, ToTensor (scale to [0,1]) and Normalize. The
// settings are recorded in every feature file, so features are never compared across
// different preprocessing without it being visible.
#pragma once

#include <opencv2/core/mat.hpp>
#include <string>
#include <vector>

namespace oodflow::extract {

struct Preprocessing {
  // Shorter side resized to this many pixels (torchvision Resize(int)); 0 = keep the size.
  int resize = 0;
  // Centre crop of crop x crop pixels, zero-padded when the image is smaller; 0 = no crop.
  int crop = 0;
  // Channels the backbone takes: 3 (RGB; grey images are replicated) or 1 (grey; colour
  // images converted with ITU-R 601 luma, as PIL's convert("L")).
  int channels = 3;
  // Per-channel mean and std of Normalize, on the [0,1] scale; one value applies to every
  // channel. Empty = 0 and 1 (no normalisation).
  std::vector<double> mean;
  std::vector<double> std;
};

/// Throws Error naming the option when a value is out of range.
void validate(const Preprocessing& p);

/// The settings as a JSON object (for feature-file metadata).
std::string to_json(const Preprocessing& p);
/// The settings back from to_json's object; throws Error naming `source` when the record is
/// malformed.
Preprocessing preprocessing_from_json(const std::string& json, const std::string& source);

/// A decoded image as it comes from a source: CV_8U (0..255) or CV_32F (0..1), 1 channel
/// (grey) or 3/4 channels in RGB(A) order. Returns the float [C, H, W] input of the
/// backbone in `out` (resized as needed) with its height and width.
void preprocess(const cv::Mat& image, const Preprocessing& p, std::vector<float>* out, int* height,
                int* width);

}  // namespace oodflow::extract
