// SPDX-License-Identifier: Apache-2.0
#include <cmath>
#include <filesystem>

#include <opencv2/ml.hpp>

#include "wim/common/error.hpp"
#include "wim/edge/anpr/char_classifier.hpp"

namespace wim::edge::anpr {
CharClassifier CharClassifier::train(const cv::Mat& x, const std::vector<int>& labels,
                                     int classes) {
  auto svm = cv::ml::SVM::create();
  svm->setType(cv::ml::SVM::C_SVC);
  svm->setKernel(cv::ml::SVM::LINEAR);
  svm->setC(1.0);
  svm->train(x, cv::ml::ROW_SAMPLE, cv::Mat(labels, true));
  // Linear kernels are compressed: one support vector (the weight vector) per decision.
  const cv::Mat sv = svm->getSupportVectors();
  CharClassifier c;
  c.classes_ = classes;
  int dfi = 0;
  for (int i = 0; i < classes; ++i) {
    for (int j = i + 1; j < classes; ++j, ++dfi) {
      cv::Mat alpha, idx;
      const double rho = svm->getDecisionFunction(dfi, alpha, idx);
      cv::Mat w = cv::Mat::zeros(1, x.cols, CV_32F);
      for (int k = 0; k < static_cast<int>(idx.total()); ++k)
        w += sv.row(idx.at<int>(k)) * alpha.at<double>(k);
      c.weights_.push_back(w);
      c.rho_.push_back(static_cast<float>(rho));
      c.pairs_.emplace_back(i, j);
    }
  }
  c.rho_ = c.rho_.reshape(1, 1);
  return c;
}

void CharClassifier::save(const std::string& path) const {
  cv::FileStorage fs(path, cv::FileStorage::WRITE);
  if (!fs.isOpened()) throw SystemError("cannot write plate classifier '" + path + "'");
  cv::Mat pairs(static_cast<int>(pairs_.size()), 2, CV_32S);
  for (std::size_t k = 0; k < pairs_.size(); ++k) {
    pairs.at<int>(static_cast<int>(k), 0) = pairs_[k].first;
    pairs.at<int>(static_cast<int>(k), 1) = pairs_[k].second;
  }
  fs << "format"
     << "wim-anpr-linear-ovo-1"
     << "classes" << classes_ << "weights" << weights_ << "rho" << rho_ << "pairs" << pairs;
}

CharClassifier CharClassifier::load(const std::string& path, int classes) {
  if (!std::filesystem::is_regular_file(path))
    throw InputError("plate classifier '" + path + "' is missing (built by wim-anpr-train)");
  CharClassifier c;
  cv::Mat pairs;
  std::string format;
  try {
    cv::FileStorage fs(path, cv::FileStorage::READ);
    if (!fs.isOpened()) throw InputError("plate classifier '" + path + "' cannot be opened");
    fs["format"] >> format;
    fs["classes"] >> c.classes_;
    fs["weights"] >> c.weights_;
    fs["rho"] >> c.rho_;
    fs["pairs"] >> pairs;
  } catch (const cv::Exception& e) {
    throw InputError("plate classifier '" + path + "' is unreadable: " + e.what());
  }
  const int n = classes * (classes - 1) / 2;
  if (format != "wim-anpr-linear-ovo-1" || c.classes_ != classes || c.weights_.rows != n ||
      c.weights_.type() != CV_32F || c.rho_.total() != static_cast<std::size_t>(n) ||
      c.rho_.type() != CV_32F || pairs.rows != n || pairs.cols != 2 || pairs.type() != CV_32S)
    throw InputError("plate classifier '" + path + "': field format/classes/weights/rho/pairs " +
                     "does not describe a " + std::to_string(classes) + "-class classifier");
  for (int k = 0; k < n; ++k) {
    const int i = pairs.at<int>(k, 0), j = pairs.at<int>(k, 1);
    if (i < 0 || j <= i || j >= classes)
      throw InputError("plate classifier '" + path + "': pairs row " + std::to_string(k) +
                       " is out of range");
    c.pairs_.emplace_back(i, j);
  }
  c.rho_ = c.rho_.reshape(1, 1);
  return c;
}

std::pair<int, double> CharClassifier::classify(const cv::Mat& row, int from, int to) const {
  CV_Assert(row.type() == CV_32F && row.cols == weights_.cols && from >= 0 && to <= classes_ &&
            from < to);
  cv::Mat d = weights_ * row.t();  // pairs × 1
  d = d.t() - rho_;
  std::vector<int> votes(static_cast<std::size_t>(classes_), 0);
  std::vector<double> sum(static_cast<std::size_t>(classes_), 0);
  for (std::size_t k = 0; k < pairs_.size(); ++k) {
    const auto [i, j] = pairs_[k];
    if (i < from || j >= to) continue;
    const double m = d.at<float>(static_cast<int>(k));
    ++votes[static_cast<std::size_t>(m > 0 ? i : j)];
    sum[static_cast<std::size_t>(i)] += m;
    sum[static_cast<std::size_t>(j)] -= m;
  }
  int win = from;
  for (int c = from; c < to; ++c) {
    const auto a = static_cast<std::size_t>(c), b = static_cast<std::size_t>(win);
    if (votes[a] > votes[b] || (votes[a] == votes[b] && sum[a] > sum[b])) win = c;
  }
  double min_margin = 1e9;
  for (std::size_t k = 0; k < pairs_.size(); ++k) {
    const auto [i, j] = pairs_[k];
    if (i < from || j >= to || (i != win && j != win)) continue;
    const double m = d.at<float>(static_cast<int>(k));
    min_margin = std::min(min_margin, i == win ? m : -m);
  }
  if (to - from == 1) min_margin = 1e9;
  return {win, 1.0 / (1.0 + std::exp(-kMarginScale * min_margin))};
}

}  // namespace wim::edge::anpr
