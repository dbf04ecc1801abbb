// SPDX-License-Identifier: Apache-2.0
// Speed probe of the OCR network under OpenCV's DNN (docs/notes/issue-17.md, fifth session).
// Not part of the build:
//   g++ -O2 -std=c++20 -Wall -Wextra -Werror -isystem /usr/include/opencv4 -o /tmp/probe
//       edge/tools/anpr_ocr_speed_probe.cpp $(pkg-config --libs opencv4)
//   /tmp/probe FLOAT.onnx IMAGE_DIR [OTHER.onnx...]
// One thread (cv::setNumThreads(1)). Inputs: the .jpg/.png of IMAGE_DIR, prepared as
// OcrRecognizer does (height 48, x/127.5 - 1, zero pad to 320); a 1080p frame gives 4 windows
// of 260x80 px. Nets: FLOAT, FLOAT through Net::quantize() (calibrated on the first input;
// PROBE_NOQ=1 skips it) and each OTHER. PROBE_ROUNDS (default 40) rounds, each runs every net
// once on the same input (interleaved); prints thread CPU ms per run (median, mean, min), wall
// ms per layer type (getPerfProfile, mean over the rounds), and how far each net's output is
// from FLOAT's (argmax agreement over the 40 steps, largest probability difference).
// PROBE_CONV=1 also prints every Convolution's wall ms in each net.
#include <opencv2/core.hpp>
#include <opencv2/core/utils/filesystem.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace {

double thread_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

cv::Mat blob_of(const cv::Mat& bgr) {
  const int w = std::clamp(static_cast<int>(std::ceil(48.0 * bgr.cols / bgr.rows)), 1, 320);
  cv::Mat r, f;
  cv::resize(bgr, r, cv::Size(w, 48));
  r.convertTo(f, CV_32FC3, 1 / 127.5, -1);
  cv::Mat padded(48, 320, CV_32FC3, cv::Scalar::all(0));
  f.copyTo(padded(cv::Rect(0, 0, w, 48)));
  return cv::dnn::blobFromImage(padded);
}

int env_int(const char* name, int dflt) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : dflt;
}

struct Probe {
  std::string name;
  cv::dnn::Net net;
  std::vector<double> cpu_ms;
  std::map<std::string, double> layer_wall_ms;  // summed over rounds
  long agree = 0, steps = 0;
  double max_dp = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: anpr_ocr_speed_probe FLOAT.onnx IMAGE_DIR [OTHER.onnx...]\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IONBF, 0);
  cv::setNumThreads(1);
  if (!cv::utils::fs::isDirectory(argv[2])) {
    std::fprintf(stderr, "anpr_ocr_speed_probe: IMAGE_DIR %s is not a directory\n", argv[2]);
    return 2;
  }
  std::vector<cv::String> files, png;
  cv::utils::fs::glob(argv[2], "*.jpg", files);
  cv::utils::fs::glob(argv[2], "*.png", png);
  files.insert(files.end(), png.begin(), png.end());
  std::vector<cv::Mat> blobs;
  for (const auto& f : files) {
    const cv::Mat im = cv::imread(f);
    if (im.empty()) continue;
    if (im.cols >= 1280 && im.rows >= 720)
      for (int k = 0; k < 4; ++k)
        blobs.push_back(blob_of(im(cv::Rect(200 + 300 * k, 600, 260, 80))));
    else
      blobs.push_back(blob_of(im));
  }
  if (blobs.empty()) {
    std::fprintf(stderr, "anpr_ocr_speed_probe: no readable .jpg/.png in %s\n", argv[2]);
    return 2;
  }
  std::printf("%zu inputs\n", blobs.size());
  std::vector<Probe> probes;
  try {
    cv::dnn::Net net = cv::dnn::readNetFromONNX(argv[1]);
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    probes.push_back({"float", net, {}, {}, 0, 0, 0});
  } catch (const cv::Exception& e) {
    std::fprintf(stderr, "anpr_ocr_speed_probe: OpenCV cannot load %s: %s\n", argv[1], e.what());
    return 2;
  }
  if (!std::getenv("PROBE_NOQ")) {
    try {
      const double t0 = thread_cpu_ms();
      cv::dnn::Net q = probes[0].net.quantize(std::vector<cv::Mat>{blobs[0]}, CV_32F, CV_32F);
      q.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
      q.setInput(blobs[0]);
      q.forward();
      std::printf("Net::quantize + first run: %.0f ms\n", thread_cpu_ms() - t0);
      probes.push_back({"Net::quantize", q, {}, {}, 0, 0, 0});
    } catch (const cv::Exception& e) {
      std::printf("Net::quantize refused: %s\n", e.what());
    }
  }
  for (int i = 3; i < argc; ++i) {
    try {
      cv::dnn::Net net = cv::dnn::readNetFromONNX(argv[i]);
      net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
      net.setInput(blobs[0]);
      net.forward();
      probes.push_back({argv[i], net, {}, {}, 0, 0, 0});
    } catch (const cv::Exception& e) {
      std::printf("%s refused: %s\n", argv[i], e.what());
    }
  }
  for (auto& p : probes)  // warm-up
    for (int i = 0; i < 3; ++i) {
      p.net.setInput(blobs[0]);
      p.net.forward();
    }
  const int rounds = std::max(1, env_int("PROBE_ROUNDS", 40));
  const double tick_ms = cv::getTickFrequency() / 1000;
  for (int r = 0; r < rounds; ++r) {
    const cv::Mat& b = blobs[static_cast<std::size_t>(r) % blobs.size()];
    cv::Mat ref;
    for (auto& p : probes) {
      const double t0 = thread_cpu_ms();
      p.net.setInput(b);
      const cv::Mat out = p.net.forward().clone();
      p.cpu_ms.push_back(thread_cpu_ms() - t0);
      std::vector<double> t;
      p.net.getPerfProfile(t);
      const auto names = p.net.getLayerNames();
      for (std::size_t i = 0; i < t.size() && i < names.size(); ++i)
        p.layer_wall_ms[names[i]] += t[i] / tick_ms;
      if (ref.empty()) ref = out;
      const cv::Mat a(out.size[1], out.size[2], CV_32F, const_cast<float*>(out.ptr<float>()));
      const cv::Mat f(ref.size[1], ref.size[2], CV_32F, ref.ptr<float>());
      for (int s = 0; s < a.rows; ++s) {
        cv::Point pa, pf;
        cv::minMaxLoc(a.row(s), nullptr, nullptr, nullptr, &pa);
        cv::minMaxLoc(f.row(s), nullptr, nullptr, nullptr, &pf);
        p.agree += pa.x == pf.x;
        ++p.steps;
      }
      p.max_dp = std::max(p.max_dp, cv::norm(a, f, cv::NORM_INF));
    }
  }
  for (auto& p : probes) {
    std::map<std::string, double> by_type;
    double total = 0;
    for (const auto& [n, ms] : p.layer_wall_ms) {
      by_type[p.net.getLayer(n)->type] += ms / rounds;
      total += ms / rounds;
    }
    std::printf("%s: wall ms per layer type (sum %.1f):", p.name.c_str(), total);
    for (const auto& [t, ms] : by_type)
      if (ms >= 0.3) std::printf(" %s %.1f", t.c_str(), ms);
    std::printf("\n");
  }
  if (std::getenv("PROBE_CONV"))
    for (const auto& [n, ms] : probes[0].layer_wall_ms) {
      const auto layer = probes[0].net.getLayer(n);
      if (layer->type != "Convolution" || layer->blobs.empty()) continue;
      const cv::Mat& w = layer->blobs[0];
      std::printf("  %-34s %4dx%4dx%dx%d float %.2f", n.c_str(), w.size[0], w.size[1], w.size[2],
                  w.size[3], ms / rounds);
      for (std::size_t k = 1; k < probes.size(); ++k) {
        const auto it = probes[k].layer_wall_ms.find(n);
        std::printf("  [%zu] %.2f", k,
                    it == probes[k].layer_wall_ms.end() ? -1.0 : it->second / rounds);
      }
      std::printf("\n");
    }
  for (auto& p : probes) {
    auto v = p.cpu_ms;
    std::sort(v.begin(), v.end());
    double mean = 0;
    for (const double x : v) mean += x;
    mean /= static_cast<double>(v.size());
    std::printf(
        "%-28s cpu ms/run median %.1f mean %.1f min %.1f (%zu runs); argmax = float %.2f %%, "
        "max |dp| %.2g\n",
        p.name.c_str(), v[v.size() / 2], mean, v[0], v.size(),
        100.0 * static_cast<double>(p.agree) / static_cast<double>(p.steps), p.max_dp);
  }
  return 0;
}
