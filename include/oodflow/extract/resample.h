// Image resizing that matches torchvision's Resize on PIL images, the transform most
// pretrained backbones were evaluated with. PIL's bilinear filter is antialiased: when
// shrinking, the triangle kernel is widened by the scale factor so every source pixel
// contributes. OpenCV has no such filter (INTER_LINEAR samples 4 pixels, INTER_AREA is a box
// filter: 1.8/255 mean error on a test photograph), so it is written here from that
// definition, with PIL's fixed-point arithmetic for 8-bit images: byte-identical to
// torchvision on real photographs (tests/extract/test_preprocess.cpp).
#pragma once

#include <opencv2/core/mat.hpp>

namespace oodflow::extract {

/// Resizes a CV_8U or CV_32F image of 1 to 4 channels to `height` x `width` with the
/// antialiased bilinear filter: horizontal pass, then vertical, 8-bit images in 22-bit fixed
/// point, rounded and clamped after each pass as PIL does.
cv::Mat resize_antialiased(const cv::Mat& image, int height, int width);

/// The size torchvision's Resize(size) gives an image of `height` x `width`: the shorter side
/// becomes `size`, the longer one keeps the aspect ratio (truncated). cv::Size is (width,
/// height).
cv::Size2i shorter_side_size(int height, int width, int size);

}  // namespace oodflow::extract
