// SPDX-License-Identifier: Apache-2.0
// Motion smear of a plate: its length and direction are estimated from the frame around the
// plate (the autocorrelation of the smeared image's derivative has a deep negative peak at
// one smear length along the smear), and the smear is undone with a Wiener filter before
// the characters are cut.
#pragma once
#include <opencv2/core.hpp>

namespace wim::edge::anpr {

/// A straight smear (the vehicle moving during the exposure).
struct MotionSmear {
  double length_px = 0;   ///< [px] 0: no smear found
  double angle_rad = 0;   ///< [rad] direction in the image (x right, y down), in [0, pi)
  double depth = 0;       ///< [-] negative-peak depth / zero-lag autocorrelation, in [0, 1]
  double anisotropy = 1;  ///< [-] weakest / strongest gradient energy, in [0, 1]
};

/// Smear of a frame region (BGR or grey): the direction of its weakest gradient (structure
/// tensor) when that holds at most `max_anisotropy` of the strongest's energy, and the length
/// (3 .. `max_length_px`) at which the autocorrelation of the derivative along it dips
/// deepest. Shorter than `min_length_px`, or not anisotropic enough: none (length 0).
MotionSmear estimate_motion_smear(const cv::Mat& region, double max_anisotropy = 0.5,
                                  int max_length_px = 32, double min_length_px = 4);

/// The region with the smear undone (Wiener filter, noise-to-signal `nsr`), same size and
/// type. Returns the region unchanged (a copy) when `smear.length_px` is 0.
cv::Mat undo_motion_smear(const cv::Mat& region, const MotionSmear& smear, double nsr = 0.01);

}  // namespace wim::edge::anpr
