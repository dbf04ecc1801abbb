// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/anpr/deblur.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/imgproc.hpp>

namespace wim::edge::anpr {
namespace {

cv::Mat grey_float(const cv::Mat& region) {
  cv::Mat g, f;
  if (region.channels() == 3)
    cv::cvtColor(region, g, cv::COLOR_BGR2GRAY);
  else
    g = region;
  g.convertTo(f, CV_32F);
  return f;
}

// Value of a circular correlation image (zero lag at (0, 0)) at lag (dx, dy), bilinear.
double at_offset(const cv::Mat& r, double dx, double dy) {
  const int x0 = static_cast<int>(std::floor(dx)), y0 = static_cast<int>(std::floor(dy));
  const double fx = dx - x0, fy = dy - y0;
  auto v = [&r](int x, int y) {
    return static_cast<double>(
        r.at<float>((y % r.rows + r.rows) % r.rows, (x % r.cols + r.cols) % r.cols));
  };
  return (1 - fy) * ((1 - fx) * v(x0, y0) + fx * v(x0 + 1, y0)) +
         fy * ((1 - fx) * v(x0, y0 + 1) + fx * v(x0 + 1, y0 + 1));
}

// The smear as a normalised kernel in a (2r+1)² image: a straight anti-aliased line.
cv::Mat smear_kernel(const MotionSmear& s) {
  constexpr int kSuper = 4;  // drawn 4× larger, then area-averaged: sub-pixel ends
  const int r = static_cast<int>(std::ceil(s.length_px / 2)) + 1;
  const int n = (2 * r + 1) * kSuper;
  cv::Mat big(n, n, CV_32F, cv::Scalar(0));
  const cv::Point2d c(n / 2.0, n / 2.0);
  const cv::Point2d d(std::cos(s.angle_rad) * s.length_px / 2 * kSuper,
                      std::sin(s.angle_rad) * s.length_px / 2 * kSuper);
  cv::line(big, c - d, c + d, cv::Scalar(1), kSuper, cv::LINE_8);
  cv::Mat k;
  cv::resize(big, k, {2 * r + 1, 2 * r + 1}, 0, 0, cv::INTER_AREA);
  k /= std::max(1e-9, cv::sum(k)[0]);
  return k;
}

}  // namespace

MotionSmear estimate_motion_smear(const cv::Mat& region, double max_anisotropy, int max_length_px,
                                  double min_length_px) {
  MotionSmear none;
  if (region.empty() || region.rows < 2 * max_length_px || region.cols < 2 * max_length_px)
    return none;
  const cv::Mat f = grey_float(region);
  cv::Mat gx, gy;  // derivatives, windowed so the region's borders make no false edges
  cv::Sobel(f, gx, CV_32F, 1, 0, 1);
  cv::Sobel(f, gy, CV_32F, 0, 1, 1);
  cv::Mat win;
  cv::createHanningWindow(win, f.size(), CV_32F);
  gx = gx.mul(win), gy = gy.mul(win);
  // Structure tensor: a smear wipes out the gradient along itself. A sharp plate has strong
  // edges both ways (character strokes, the plate's rim); a smeared one's weakest gradient
  // direction holds a small share of the energy, and that direction is the smear's.
  const double jxx = gx.dot(gx), jyy = gy.dot(gy), jxy = gx.dot(gy);
  const double tr = jxx + jyy, det = jxx * jyy - jxy * jxy;
  if (tr <= 0) return none;
  const double disc = std::sqrt(std::max(0.0, tr * tr / 4 - det));
  const double lmax = tr / 2 + disc, lmin = tr / 2 - disc;
  MotionSmear s;
  s.anisotropy = lmin / lmax;
  if (s.anisotropy > max_anisotropy) return none;
  // eigenvector of lmin: (jxy, lmin - jxx), or (lmin - jyy, jxy)
  double ex = jxy, ey = lmin - jxx;
  if (std::hypot(ex, ey) < 1e-9 * tr) ex = lmin - jyy, ey = jxy;
  double angle = std::atan2(ey, ex);
  if (angle < 0) angle += CV_PI;
  if (angle >= CV_PI) angle -= CV_PI;
  // Length and exact direction: the derivative along the smear is the sharp image shifted by
  // +L/2 minus shifted by -L/2, so its autocorrelation dips deepest at lag L along the smear.
  // The tensor's direction leans towards the plate's long edges: searched within 20 degrees.
  const cv::Size sz(cv::getOptimalDFTSize(f.cols), cv::getOptimalDFTSize(f.rows));
  cv::Mat px, py, Fx, Fy, Sxx, Syy, Sxy, Rxx, Ryy, Rxy;
  cv::copyMakeBorder(gx, px, 0, sz.height - f.rows, 0, sz.width - f.cols, cv::BORDER_CONSTANT);
  cv::copyMakeBorder(gy, py, 0, sz.height - f.rows, 0, sz.width - f.cols, cv::BORDER_CONSTANT);
  cv::dft(px, Fx, cv::DFT_COMPLEX_OUTPUT);
  cv::dft(py, Fy, cv::DFT_COMPLEX_OUTPUT);
  cv::mulSpectrums(Fx, Fx, Sxx, 0, true);
  cv::mulSpectrums(Fy, Fy, Syy, 0, true);
  cv::mulSpectrums(Fx, Fy, Sxy, 0, true);
  cv::idft(Sxx, Rxx, cv::DFT_REAL_OUTPUT | cv::DFT_SCALE);
  cv::idft(Syy, Ryy, cv::DFT_REAL_OUTPUT | cv::DFT_SCALE);
  cv::idft(Sxy, Rxy, cv::DFT_REAL_OUTPUT | cv::DFT_SCALE);
  // autocorrelation of the derivative along direction a, at lag (dx, dy)
  auto r = [&](double a, double dx, double dy) {
    const double c = std::cos(a), sn = std::sin(a);
    return c * c * at_offset(Rxx, dx, dy) + sn * sn * at_offset(Ryy, dx, dy) +
           c * sn * (at_offset(Rxy, dx, dy) + at_offset(Rxy, -dx, -dy));
  };
  double lowest = 0;
  constexpr double kSearch = 20 * CV_PI / 180, kStep = CV_PI / 90;
  for (double a = angle - kSearch; a <= angle + kSearch + 1e-9; a += kStep) {
    const double zero = r(a, 0, 0);
    if (zero <= 0) continue;
    for (double len = 3; len <= max_length_px; len += 0.5) {
      const double v = r(a, std::cos(a) * len, std::sin(a) * len) / zero;
      if (v < lowest) lowest = v, s.length_px = len, s.angle_rad = a;
    }
  }
  s.depth = -lowest;
  if (s.angle_rad < 0) s.angle_rad += CV_PI;
  if (s.angle_rad >= CV_PI) s.angle_rad -= CV_PI;
  if (s.length_px < min_length_px) return none;
  return s;
}

cv::Mat undo_motion_smear(const cv::Mat& region, const MotionSmear& smear, double nsr) {
  if (smear.length_px <= 0 || region.empty()) return region.clone();
  const cv::Mat k = smear_kernel(smear);
  const int pad = k.rows;  // replicated border: the smear near the edges has something to undo
  const cv::Size sz(cv::getOptimalDFTSize(region.cols + 2 * pad),
                    cv::getOptimalDFTSize(region.rows + 2 * pad));
  cv::Mat psf(sz, CV_32F, cv::Scalar(0));  // kernel centred on (0, 0), wrapped around
  const int r = k.rows / 2;
  for (int y = 0; y < k.rows; ++y)
    for (int x = 0; x < k.cols; ++x)
      psf.at<float>((y - r + sz.height) % sz.height, (x - r + sz.width) % sz.width) =
          k.at<float>(y, x);
  cv::Mat H;
  cv::dft(psf, H, cv::DFT_COMPLEX_OUTPUT);
  // Wiener filter W = conj(H) / (|H|² + nsr)
  cv::Mat W(H.size(), H.type());
  for (int y = 0; y < H.rows; ++y) {
    const auto* h = H.ptr<cv::Vec2f>(y);
    auto* w = W.ptr<cv::Vec2f>(y);
    for (int x = 0; x < H.cols; ++x) {
      const double m = h[x][0] * h[x][0] + h[x][1] * h[x][1] + nsr;
      w[x] = cv::Vec2f(static_cast<float>(h[x][0] / m), static_cast<float>(-h[x][1] / m));
    }
  }
  std::vector<cv::Mat> ch, out;
  cv::split(region, ch);
  for (const auto& c : ch) {
    cv::Mat f, padded, F, G, g;
    c.convertTo(f, CV_32F);
    cv::copyMakeBorder(f, padded, pad, sz.height - region.rows - pad, pad,
                       sz.width - region.cols - pad, cv::BORDER_REPLICATE);
    cv::dft(padded, F, cv::DFT_COMPLEX_OUTPUT);
    cv::mulSpectrums(F, W, G, 0);
    cv::idft(G, g, cv::DFT_REAL_OUTPUT | cv::DFT_SCALE);
    cv::Mat back;
    g(cv::Rect(pad, pad, region.cols, region.rows)).convertTo(back, region.depth());
    out.push_back(back);
  }
  cv::Mat result;
  cv::merge(out, result);
  return result;
}

}  // namespace wim::edge::anpr
