// SPDX-License-Identifier: Apache-2.0
// What a violation record gets from the station's camera: the plate read and the images.
// StationWeigher asks a PassEvidenceSource (if one is set) for every violation, in pass
// order, on the weighing thread; plain pass records get nothing from it (privacy rule of
// contract 4). The camera implementation is edge/src/camera_evidence.cpp (wim_edge_camera,
// needs OpenCV); this header has no OpenCV so the weigher builds without a camera.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "wim/common/record.hpp"

namespace wim::edge {

/// A violation's camera evidence.
struct VehicleEvidence {
  /// The read plate, or needs_human_review (low confidence, no plate found, camera fault).
  /// Always set by a camera source.
  std::optional<record::Plate> plate;
  /// Empty when the camera saw the pass, else what went wrong (measurement.camera_problem).
  std::string camera_problem;
  /// name -> bytes: frame-NN.jpg (untouched originals), overview.jpg, plate.jpg.
  std::map<std::string, std::string> attachments;
};

class PassEvidenceSource {
 public:
  virtual ~PassEvidenceSource() = default;
  /// Evidence for a violation record as sealed so far (lane, time, clock, measurement,
  /// legal basis; no seq yet). Never throws for camera faults: a fault is stated in
  /// camera_problem and reported by take_events().
  virtual VehicleEvidence evidence_for(const record::Manifest& violation) = 0;
  /// Camera event records ("camera_fault", "camera_recovered") since the last call, in
  /// order, kind event with time and event set; the weigher seals them.
  virtual std::vector<record::Manifest> take_events() = 0;
};

}  // namespace wim::edge
