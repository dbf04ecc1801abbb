// SPDX-License-Identifier: Apache-2.0
// Character classifier: linear SVMs, one per pair of classes (trained with cv::ml::SVM at
// build time), stored as plain weight vectors so a character costs one matrix product.
// Confidence: the winner's smallest pairwise margin, squashed to (0, 1).
#pragma once
#include <string>
#include <utility>

#include <opencv2/core.hpp>

namespace wim::edge::anpr {

class CharClassifier {
 public:
  /// [-] confidence = sigmoid(kMarginScale × margin): a margin of 1 (the SVM's) gives 0.95.
  static constexpr double kMarginScale = 3.0;

  /// Trains on rows of `features` (CV_32F) with labels 0..classes-1 (all present).
  static CharClassifier train(const cv::Mat& features, const std::vector<int>& labels, int classes);
  /// Throws InputError naming the file and what is wrong with it.
  static CharClassifier load(const std::string& path, int classes);
  void save(const std::string& path) const;

  /// Best class among [from, to) and its confidence [0, 1] for one feature row.
  std::pair<int, double> classify(const cv::Mat& row, int from, int to) const;
  int classes() const { return classes_; }
  int dims() const { return weights_.cols; }

 private:
  int classes_ = 0;
  cv::Mat weights_;  // one row per pair (i<j): > 0 favours i
  cv::Mat rho_;      // 1 × pairs
  std::vector<std::pair<int, int>> pairs_;
};

}  // namespace wim::edge::anpr
