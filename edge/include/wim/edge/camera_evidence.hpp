// SPDX-License-Identifier: Apache-2.0
// The station's plate camera as a PassEvidenceSource: station.json's "camera" section
// (docs/station-config.md), the frames around a violation (FrameRing +
// camera_pass_time_us), the plate voted over them (PlateReader) and the evidence images
// (build_pass_evidence). Two kinds of camera:
//   "opencv": a real camera (V4L2 / RTSP / HTTP / file / folder), grabbed on its own
//             thread into a ring of the newest frames;
//   "sim":    the camera twin, driven by the simulator's truth (the plate of the vehicle
//             passing): the in-process "sim" acquisition source's truth callback, or the
//             truth.jsonl beside a replayed wim-sim recording.
// A camera fault (stream down, corrupt frames, no frames around the pass) never stops
// weighing: the violation's plate says "camera fault: …" and needs a human, and a
// "camera_fault" event record is sealed; the next good pass seals "camera_recovered".
#pragma once
#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include <boost/json.hpp>

#include "wim/edge/anpr/plate_reader.hpp"
#include "wim/edge/pass_evidence.hpp"
#include "wim/hw/camera.hpp"
#include "wim/hw/plate_render.hpp"
#include "wim/hw/sim_truth.hpp"

namespace wim::edge {

/// Attachment of a violation whose plate a human must read: why (UTF-8 text), e.g. "lane 1:
/// two plates read surely, 冀B7G285 and 京A12345: …", and the reader's candidate.
inline constexpr std::string_view kPlateReviewAttachment = "plate-review.txt";

/// station.json's "camera" section. Unknown fields and bad values are InputErrors naming
/// the field ("station.json: camera.lead_s: ...").
struct CameraConfig {
  std::string kind;            ///< "opencv" | "sim"
  std::string url;             ///< opencv: device, stream URL, video file or folder
  double lead_s = 0.3;         ///< [s] frames kept before the camera pass time
  double lag_s = 0.3;          ///< [s] frames kept after it
  double distance_m = 0;       ///< [m] camera's view centre downstream (+) of the sensors
  std::size_t max_frames = 5;  ///< [-] frames read and attached per violation
  std::string model_dir;       ///< plate reader model; default: default_anpr_model_dir()
  /// The plate reader's real-text recognizer (anpr_ocr.onnx + anpr_ocr_keys.txt, docs/anpr.md),
  /// which then reads whole frames (PlateReader(config, ocr_dir)); "" = none, the character
  /// classifiers only. Default: default_anpr_ocr_dir() (the .deb's /usr/share/wim/anpr_ocr).
  std::string ocr_dir;
  double review_below = 0.80;           ///< [0, 1] plate confidence under which a human reads
  std::string condition = "clear_day";  ///< sim: a hw::Condition name or "mixed"
  std::uint32_t seed = 1;               ///< sim: rendering seed
  double fps = 10;                      ///< [1/s] sim: frame rate
  int fail_every = 0;  ///< [-] sim: every n-th violation finds the stream down (0: never)
  /// Per lane (1-based): the image region where that lane's plates appear ("lanes": {"1":
  /// {"roi": [x, y, w, h]}}, fractions of the frame or pixels). A violation of a lane with a
  /// region is read only there; without one, in the whole frame (see road_lanes).
  std::map<int, anpr::LaneRegion> lanes;
  /// [-] lanes the station weighs (its channels' lanes; set by load_camera). Above 1, a
  /// violation of a lane without a region is read in the whole frame but always sent to a
  /// human: the plate read surely there may be the next lane's vehicle's.
  int road_lanes = 1;
  /// sim: "truth" (other vehicles in view when the simulator's truth has them: other lanes
  /// within ±0.5 s, a follower of the same lane up to 1.5 s behind) or "dense" (every
  /// violation also shows 1-2 invented vehicles: the next lane's and/or a follower).
  std::string traffic = "truth";
  int view_lanes = 2;  ///< [-] sim: lanes side by side in the frame when no region says where
};

/// A plate reader from `config`, with the OCR from `ocr_dir` unless "" (logs which).
std::shared_ptr<const anpr::PlateReader> make_plate_reader(const anpr::PlateReaderConfig& config,
                                                           const std::string& ocr_dir);

/// Parses the section; `base_dir` resolves a relative model_dir, ocr_dir or url folder. An
/// ocr_dir given that lacks anpr_ocr.onnx or anpr_ocr_keys.txt is an InputError naming
/// camera.ocr_dir.
CameraConfig parse_camera_config(const boost::json::value& section, const std::string& what,
                                 const std::filesystem::path& base_dir);

/// Frames around a pass. Implementations: LiveFrames (opencv), SimFrames (twin).
class FrameProvider {
 public:
  virtual ~FrameProvider() = default;
  /// Frames with UTC in [t - lead, t + lag] of `camera_utc_us`, for the vehicle weighed at
  /// `violation`; empty with `problem` set when the camera could not deliver.
  virtual std::vector<hw::Frame> frames_for(const record::Manifest& violation,
                                            std::int64_t camera_utc_us,
                                            const hw::FrameWindow& window,
                                            std::string& problem) = 0;
  virtual std::string describe() const = 0;
};

/// The camera twin. Thread-safe: add_truth() from the acquisition thread.
class SimFrames final : public FrameProvider {
 public:
  explicit SimFrames(const CameraConfig& config);
  void add_truth(const hw::SimTruth& t);  ///< a vehicle the simulator sent past
  /// Reads truth.jsonl of a wim-sim recording that started at `started_unix_us`; throws
  /// InputError naming the file and line.
  void load_truth_jsonl(const std::filesystem::path& path, std::int64_t started_unix_us);
  /// Fault modes for tests: the next n passes find the stream down / only corrupt frames.
  void fail_passes(int n) { fail_passes_ = n; }
  void corrupt_passes(int n) { corrupt_passes_ = n; }
  std::vector<hw::Frame> frames_for(const record::Manifest& violation, std::int64_t camera_utc_us,
                                    const hw::FrameWindow& window, std::string& problem) override;
  std::string describe() const override { return "sim:camera"; }

 private:
  struct Vehicle {
    int lane;
    std::int64_t t_unix_us;
    std::string plate_text, plate_colour;
  };
  // The other vehicles in view with the weighed one (truth, or invented when "dense").
  std::vector<hw::VehicleInView> others_in_view(const Vehicle& weighed, std::uint64_t pass) const;
  hw::VehicleInView in_view(const Vehicle& v, bool follower) const;
  CameraConfig config_;
  std::mutex mutex_;
  std::deque<Vehicle> vehicles_;
  std::uint64_t passes_ = 0;
  int fail_passes_ = 0, corrupt_passes_ = 0;
};

/// A real camera grabbed on its own thread into a FrameRing.
class LiveFrames final : public FrameProvider {
 public:
  LiveFrames(std::unique_ptr<hw::FrameSource> source, std::size_t ring_frames = 128);
  ~LiveFrames() override;
  std::vector<hw::Frame> frames_for(const record::Manifest& violation, std::int64_t camera_utc_us,
                                    const hw::FrameWindow& window, std::string& problem) override;
  std::string describe() const override { return describe_; }

 private:
  std::unique_ptr<hw::FrameSource> source_;
  std::string describe_;
  hw::FrameRing ring_;
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> newest_utc_us_{0};
  mutable std::mutex status_mutex_;
  hw::CameraStatus status_;
  std::thread thread_;
};

/// Plate readers shared by the stations of one process (`wim-edge run-many`): one per
/// (model_dir, review_below, ocr_dir), loaded on first use and immutable afterwards, so 51 stations
/// hold one model instead of 51 copies. PlateReader::read_pass is const and reentrant (no
/// state besides the loaded weights), so the stations' weighing threads call it at once.
/// Thread-safe.
class SharedPlateReaders {
 public:
  /// The reader for `config` (with the OCR from `ocr_dir` unless ""); InputError naming the
  /// missing or unreadable model file.
  std::shared_ptr<const anpr::PlateReader> get(const anpr::PlateReaderConfig& config,
                                               const std::string& ocr_dir = {});
  std::size_t loaded() const;  ///< [-] models loaded so far

 private:
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, double, std::string>, std::shared_ptr<const anpr::PlateReader>>
      readers_;
};

class CameraEvidence final : public PassEvidenceSource {
 public:
  /// Loads its own plate reader from config.model_dir (and config.ocr_dir unless "").
  CameraEvidence(CameraConfig config, std::string station_id,
                 std::unique_ptr<FrameProvider> frames);
  /// Reads plates with `reader` (shared with other stations; must not be null).
  CameraEvidence(CameraConfig config, std::string station_id, std::unique_ptr<FrameProvider> frames,
                 std::shared_ptr<const anpr::PlateReader> reader);
  VehicleEvidence evidence_for(const record::Manifest& violation) override;
  std::vector<record::Manifest> take_events() override;
  FrameProvider& frames() { return *frames_; }
  const anpr::PlateReader& reader() const { return *reader_; }

 private:
  CameraConfig config_;
  std::string station_id_;
  std::unique_ptr<FrameProvider> frames_;
  std::shared_ptr<const anpr::PlateReader> reader_;
  bool faulty_ = false;
  std::vector<record::Manifest> events_;
};

/// station.json's camera, ready to set on StationWeigher.
struct StationCamera {
  std::unique_ptr<CameraEvidence> evidence;
  SimFrames* sim = nullptr;       ///< the twin, when kind is "sim" (owned by evidence)
  hw::SimTruthCallback on_truth;  ///< pass to load_acquisition (sim twin + sim source)
};
/// nullopt when station.json has no "camera" section (the station has no camera). For a
/// "sim" camera with a replayed wim-sim recording, truth.jsonl beside the recording drives
/// the twin. InputError naming the file and field on a bad section or model. With `shared`,
/// the plate reader comes from there (one model for all stations of a process).
std::optional<StationCamera> load_camera(const std::filesystem::path& station_json,
                                         SharedPlateReaders* shared = nullptr);

}  // namespace wim::edge
