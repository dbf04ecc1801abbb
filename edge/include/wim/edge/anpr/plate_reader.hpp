// SPDX-License-Identifier: Apache-2.0
// The plate reader: finds Chinese plates in a frame (colour masks, or brightness for
// infrared night frames), rectifies them, reads every character with classifiers trained
// at build time (province characters and letters/digits apart), and votes over the
// frames of a pass. A read that is not sure is marked for a human: never guessed.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "wim/edge/anpr/ctc_decode.hpp"
#include "wim/hw/plate_render.hpp"

namespace wim::edge::anpr {

/// One frame's or one pass's plate reading.
struct PlateRead {
  bool found = false;         ///< a plate-like region was read
  bool needs_review = true;   ///< a human must read the plate; `text` is then empty
  std::string review_reason;  ///< why, e.g. "no plate found", "low confidence 0.41"
  std::string text;           ///< UTF-8 plate text, only when !needs_review
  std::string candidate;      ///< best reading even if unsure: a hint for the human only
  hw::PlateColour colour = hw::PlateColour::blue;
  bool colour_from_pixels = false;       ///< false: infrared frame, colour inferred from layout
  double confidence = 0;                 ///< [0, 1] lowest character confidence
  std::vector<double> char_confidence;   ///< [0, 1] per character
  cv::Rect box;                          ///< [px] plate bounding box in the frame
  std::array<cv::Point2f, 4> corners{};  ///< [px] tl, tr, br, bl
  cv::Mat close_up;                      ///< rectified plate (BGR), empty if none
  int frames_read = 0;                   ///< [-] frames whose reads were voted
  int disagreements = 0;  ///< [-] characters a cross-check reading (grown borders) read otherwise
  /// Another plate read elsewhere in the frame or lane region (surely, or at least at
  /// kOtherPlateSeen), or surely by other frames of the pass: two vehicles' plates, so a
  /// human decides (never guessed).
  std::string other_plate;      ///< several: "B, C", the surest first
  double other_confidence = 0;  ///< [0, 1] the surest other plate's reading confidence
  int frame_index = -1;  ///< [-] read_pass: the frame (index into its frames) this read is from
};

/// The image region where one lane's plates appear (station.json camera.lanes.N.roi).
struct LaneRegion {
  cv::Rect2d rect;         ///< x, y, width, height: fractions of the frame, or pixels
  bool in_pixels = false;  ///< rect is in pixels (else fractions of the frame's size)
  /// [px] the region in a frame of `frame` size, clipped to it (may be empty).
  cv::Rect to_pixels(cv::Size frame) const;
};

/// How a frame is read: where the weighed vehicle's plate can be.
struct ReadOptions {
  /// Only plates whose centre lies inside are read (nullopt: the whole frame).
  std::optional<LaneRegion> roi;
  /// Non-empty: a plate read surely still goes to a human, for this reason (e.g. a lane of a
  /// multi-lane road without a region: the plate read may be the next lane's vehicle's).
  std::string always_review;
};

/// [0, 1] confidence given to a character that a cross-check reading read otherwise.
inline constexpr double kDisagreeConfidence = 0.3;
/// [0, 1] a second plate-like reading elsewhere in the frame (region) at this confidence or
/// more is another vehicle's plate: the weighed vehicle may be that one, so a sure reading
/// of the first is not enough (dense traffic: without it the reader accepted the next
/// lane's plate whenever the weighed vehicle's plate itself was unsure). Not lower: on
/// single-vehicle frames (bench seed 9001, dusk above all) non-plate regions read up to 0.65.
inline constexpr double kOtherPlateSeen = 0.7;
/// [-] the OCR cross-check reads the crop again with its borders grown (edge pixels
/// repeated) by this share of its width on each side, and this share x 2 of its height.
inline constexpr double kOcrCrossGrow = 0.04;
/// [-] whole frames with the OCR: plate candidates read by it per frame, those whose
/// close-up looks most like a row of characters (each read costs one network run).
inline constexpr int kOcrCandidates = 2;
/// [-] a candidate's close-up is text-like when the median row through its characters
/// crosses between ink and plate at least this often (7 characters: >= 14 in print).
inline constexpr int kOcrMinTransitions = 8;
/// [-] the second opinion on a whole-frame OCR reading: the plate quad grown by
/// kOcrCrossGrow, shifted right by this share of its width, warped at kOcrSecondScale of
/// the canonical size; a character it reads otherwise gets kDisagreeConfidence.
inline constexpr double kOcrSecondShift = 0.02;
inline constexpr double kOcrSecondScale = 0.75;
/// [-] paint share of a close-up that names another plate colour than its layout's: a
/// yellow-layout close-up with light characters and this much blue paint is read as a blue
/// plate (else it goes to a human); a blue-layout close-up with this much yellow paint is not
/// sure (a yellow plate on a blue body: the blue mask found the body around it).
inline constexpr double kOcrPaintShare = 0.2;

/// How the OCR's per-step probabilities become a plate's characters (ctc_decode.hpp).
enum class OcrDecode {
  greedy,   ///< the network's best path; a reading GA 36 forbids goes to a human
  grammar,  ///< the best path GA 36 allows in the layout read; a character where the decoder
            ///< overrode the network keeps that step's probability as its confidence (a
            ///< character beyond the layout's first or last is dropped at no cost)
};

struct PlateReaderConfig {
  std::string model_dir;       ///< holds anpr_province.yml.gz and anpr_alnum.yml.gz
  double review_below = 0.80;  ///< [0, 1] plate confidence under which a human reads
  int max_candidates = 6;      ///< [-] plate-like regions read per frame
  /// [-] the cross-check reading's plate borders are grown by this share of the plate's
  /// width / height on each side; a character it reads otherwise is not sure (0: off).
  double cross_check_grow = 0.01;
  /// The OCR's first reading of a candidate (the second opinion is always greedy).
  OcrDecode ocr_decode = OcrDecode::grammar;
};

/// Plate candidates in a frame: corners tl, tr, br, bl in frame pixels.
struct PlateCandidate {
  std::array<cv::Point2f, 4> corners{};
  bool mono = false;                     ///< frame has no colour (infrared)
  std::vector<hw::PlateColour> layouts;  ///< layouts worth trying
  double area_px = 0;                    ///< [px²]
};
std::vector<PlateCandidate> find_plate_candidates(const cv::Mat& bgr, int max_candidates);
/// Plate candidates found by their characters rather than their paint: rows of dense vertical
/// edges of plate aspect (1.8-7.5, within 25° of level), grown to a plate's border, whose
/// surround is mostly one plate colour (relaxed saturation: faded, grey-balanced plates that
/// the colour masks of find_plate_candidates miss). Used with the OCR only.
std::vector<PlateCandidate> find_text_candidates(const cv::Mat& bgr, int max_candidates);
/// No colour: the channels differ by sensor noise only (an infrared frame or close-up).
bool is_grey(const cv::Mat& bgr);
/// The plate colour whose paint covers most of a close-up (at least a quarter of it, relaxed
/// saturation as find_text_candidates), or none: grey (is_grey) or no plate paint.
std::optional<hw::PlateColour> plate_paint(const cv::Mat& close_up);
/// [0, 1] share of a close-up's pixels in the paint mask of `paint` (yellow_double: yellow),
/// with plate_paint's relaxed saturation.
double paint_share(const cv::Mat& close_up, hw::PlateColour paint);

/// Thread-safe after construction (const reads only).
class PlateReader {
 public:
  /// Throws InputError naming the model file that is missing or unreadable.
  explicit PlateReader(PlateReaderConfig config);
  /// With the real-text recognizer (ocr_recognizer.hpp) from `ocr_dir` (anpr_ocr.onnx and
  /// anpr_ocr_keys.txt, the build's edge/anpr_ocr), which read_crop() then reads with.
  PlateReader(PlateReaderConfig config, const std::string& ocr_dir);
  ~PlateReader();

  /// Reads one frame: the surest plate (in `options.roi` when set). With an OCR, the
  /// kOcrCandidates most text-like single-row candidates are read by it (two-row yellow by
  /// the classifiers), the surest reading that obeys GA 36 wins, and it is accepted only
  /// when a second OCR reading of the plate cut otherwise (kOcrSecondShift) agrees on every
  /// character. When another plate,
  /// apart from it, also reads surely and differently, the read needs a human and
  /// `other_plate` names it. Throws InputError for an empty or non-8-bit image.
  PlateRead read(const cv::Mat& bgr, const ReadOptions& options = {}) const;
  bool has_ocr() const;  ///< built with the real-text recognizer (ocr_dir)
  /// [-] OCR network runs so far (0 without the OCR): each costs ~40-50 ms of CPU.
  std::uint64_t ocr_runs() const;
  /// Reads every frame and votes per character among the reads of the winning layout (only
  /// the frames sure on their own, >= review_below, when there are any); a character's
  /// confidence is its summed votes over the number of voters, so disagreement lowers it.
  /// Plates read surely by different frames that differ in two or more characters are two
  /// vehicles' (other_plate; a human decides).
  PlateRead read_pass(const std::vector<cv::Mat>& frames, const ReadOptions& options = {}) const;
  /// Reads an image that is a plate already cut out (the whole image, tight to the plate's
  /// border, in `layout`): recognition alone, without localisation, for scoring the
  /// character reader on labelled plate crops. With an OCR (single-row layouts) the
  /// real-text recognizer reads it, cross-checked by a second reading through borders grown
  /// by kOcrCrossGrow (a character the two read otherwise, or a different length: 0.3).
  /// Decided as read() (confidence floor, plate grammar). Throws InputError as read().
  PlateRead read_crop(const cv::Mat& bgr, hw::PlateColour layout) const;
  /// Applies the review threshold to a read (used by read and read_pass).
  void decide(PlateRead& r, const ReadOptions& options = {}) const;

 private:
  struct Model;
  PlateRead read_crop_ocr(const cv::Mat& bgr, hw::PlateColour layout) const;
  PlateRead read_frame_ocr(const cv::Mat& bgr, const std::vector<PlateCandidate>& candidates,
                           const ReadOptions& options) const;
  OcrReading ocr_read(const cv::Mat& close_up, hw::PlateColour layout) const;
  PlateRead ocr_candidate(const cv::Mat& bgr, const PlateCandidate& c,
                          hw::PlateColour layout) const;
  void ocr_second_opinion(const cv::Mat& bgr, const PlateCandidate& c, PlateRead& r) const;
  PlateRead read_candidate(const cv::Mat& bgr, const PlateCandidate& c,
                           hw::PlateColour layout) const;
  void cross_check(const cv::Mat& bgr, const PlateCandidate& c, PlateRead& r) const;
  PlateReaderConfig config_;
  std::unique_ptr<Model> model_;
};

}  // namespace wim::edge::anpr
