// SPDX-License-Identifier: Apache-2.0
// Evidence images of a vehicle pass: the untouched original frames, a captioned copy and
// the plate close-up, plus the plate read voted over the frames. The station daemon calls
// this for violation records only (pass records within the limit carry no image).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "wim/common/record.hpp"
#include "wim/common/time.hpp"
#include "wim/edge/anpr/plate_reader.hpp"
#include "wim/hw/camera.hpp"

namespace wim::edge::anpr {

/// What the caption states about the pass.
struct PassFacts {
  std::string station_id;   ///< e.g. "G017"
  int lane = 1;             ///< [-] lane number
  std::int64_t utc_us = 0;  ///< [us] UTC time of the pass over the sensors
  time::ClockSync clock_sync = time::ClockSync::unknown;
  double gross_kg = 0;        ///< [kg] measured gross mass
  double limit_kg = 0;        ///< [kg] legal limit applied
  double overload_ratio = 0;  ///< [-] (gross − limit) / limit
};

/// One attachment of the evidence packet.
struct Attachment {
  std::string name;        ///< file name in the packet, e.g. "frame-01.jpg"
  std::string bytes;       ///< JPEG bytes
  std::string sha256_hex;  ///< [hex] SHA-256 of bytes, for the manifest
};

struct PassEvidence {
  PlateRead plate;  ///< voted over the frames; needs_review says if a human must read
  std::vector<Attachment> attachments;  ///< frame-NN.jpg (originals), overview.jpg, plate.jpg
};

/// Reads the plate over `frames` and builds the attachments. Originals are the camera's own
/// JPEG bytes when it delivered JPEG, else the frame encoded once here (quality 95). Frames
/// whose pixels are unusable are skipped and named in the log; never throws for bad frames.
/// `read` says where the weighed vehicle's plate can be (its lane's region): the overview
/// then outlines that region (yellow) and boxes the plate read (red) in the frame it was
/// read from.
PassEvidence build_pass_evidence(const PlateReader& reader, const std::vector<hw::Frame>& frames,
                                 const PassFacts& facts, const ReadOptions& read = {});

/// The manifest's plate (contract 4): text only when read without doubt, else empty with
/// needs_human_review; both yellow layouts are colour "yellow".
record::Plate to_record_plate(const PlateRead& plate);

/// Attachments as packet::seal takes them: name -> bytes.
std::map<std::string, std::string> attachment_map(const PassEvidence& evidence);

/// The caption's lines, e.g. "G017  lane 1  2026-11-27T08:00:00.123Z  clock synced"; the
/// third names the plate (UTF-8 text, colour, confidence) when it was read automatically, or
/// why a human must read it (the unsure candidate is never shown). overview.jpg draws them
/// with Debian's WenQuanYi font (fonts-wqy-zenhei); without it, ASCII lines only.
std::vector<std::string> caption_lines(const PassFacts& facts, const PlateRead& plate);

}  // namespace wim::edge::anpr
