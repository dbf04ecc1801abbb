// SPDX-License-Identifier: Apache-2.0
// Chinese licence plates (GA 36 layouts) rendered from Debian's fonts, and vehicle-like
// scenes around them under field conditions: the simulated camera's drawing board and the
// plate reader's training data. Seeded: the same rng state gives the same image.
#pragma once
#include <array>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/freetype.hpp>

namespace wim::hw {

enum class PlateColour {
  blue,           ///< small vehicle: white text on blue, 440×140 mm, 7 characters
  yellow,         ///< large vehicle, front: black on yellow, 440×140 mm, 7 characters
  yellow_double,  ///< large vehicle, rear: two rows, 440×220 mm, 2 + 5 characters
  green,          ///< new-energy vehicle: black on green gradient, 480×140 mm, 8 characters
};
std::string_view to_string(PlateColour c);
/// Throws InputError naming the bad value.
PlateColour plate_colour_from_string(std::string_view s);
inline constexpr std::array<PlateColour, 4> kPlateColours = {
    PlateColour::blue, PlateColour::yellow, PlateColour::yellow_double, PlateColour::green};

/// The 31 province characters (UTF-8), first character of every plate.
extern const std::array<std::string_view, 31> kProvinces;
/// Letters and digits on plates: the alphabet excludes I and O. Letters first: [0, 24).
inline constexpr std::string_view kAlnum = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
inline constexpr int kLetterCount = 24;

/// Splits UTF-8 text into characters; throws InputError on malformed UTF-8.
std::vector<std::string> split_utf8(std::string_view text);

struct PlateSpec {
  PlateColour colour = PlateColour::blue;
  std::string text;       ///< UTF-8, e.g. "京A12345", no separator dot
  int province_font = 0;  ///< [-] index into the renderer's province fonts (0: the first)
  int alnum_font = 0;     ///< [-] index into the renderer's letter/digit fonts
};

/// A character cell on the plate, in mm from the plate's top-left corner.
struct CharBox {
  float x_mm, y_mm, w_mm, h_mm;
};
struct PlateLayout {
  float width_mm, height_mm;
  std::vector<CharBox> chars;  ///< in reading order
  bool dark_text;              ///< black text on a light plate (yellow, green)
};
const PlateLayout& plate_layout(PlateColour c);

/// Where the fonts are (Debian: fonts-wqy-zenhei, fonts-dejavu-core). A path may end in
/// "#N" to take face N of a font collection (.ttc), e.g. "NotoSansCJK-Bold.ttc#2".
struct PlateFonts {
  std::string province_font = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc";
  std::string alnum_font = "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf";
  /// Further typefaces (training: the reader must not learn one typeface). When set,
  /// random_plate() draws each plate's province and letter/digit fonts from all of them.
  std::vector<std::string> more_province_fonts, more_alnum_fonts;
};

enum class Condition { clear_day, dusk, night_ir, motion_blur, glare, dirt };
inline constexpr std::array<Condition, 6> kConditions = {
    Condition::clear_day,   Condition::dusk,  Condition::night_ir,
    Condition::motion_blur, Condition::glare, Condition::dirt};
std::string_view to_string(Condition c);

/// One plate in a rendered frame and where it is.
struct ScenePlate {
  PlateSpec plate;
  std::array<cv::Point2f, 4> corners{};  ///< [px] tl, tr, br, bl
};

/// A rendered frame and its truth.
struct Scene {
  cv::Mat image;                         ///< [BGR8]
  std::array<cv::Point2f, 4> corners{};  ///< [px] plate corners tl, tr, br, bl
  PlateSpec plate;
  bool has_plate = false;
  /// Dense traffic (render_traffic): every vehicle's plate, the weighed one first (it is
  /// also `plate` / `corners`); empty for single-vehicle scenes.
  std::vector<ScenePlate> plates;
};

/// A vehicle in a dense-traffic frame (one camera over several lanes).
struct VehicleInView {
  PlateSpec plate;
  double centre_x = 0.25;   ///< [0, 1] of the frame width: centre of the vehicle's lane
  double lane_width = 0.5;  ///< [0, 1] of the frame width the lane takes (scales the vehicle)
  /// Close behind a vehicle of the same lane: drawn smaller and higher in the frame (farther
  /// from the camera), above the front vehicle's roof line.
  bool follower = false;
};

/// Not thread-safe (FreeType state); one renderer per thread.
class PlateRenderer {
 public:
  /// Throws InputError naming a font file that is missing or unreadable.
  explicit PlateRenderer(const PlateFonts& fonts = {});

  /// A random valid plate of that colour (province + letter + 5 or 6 alnum).
  PlateSpec random_plate(std::mt19937& rng, PlateColour colour) const;
  PlateSpec random_plate(std::mt19937& rng) const;

  /// The flat plate at `px_per_mm` [px/mm]. Throws InputError if the text does not fit the
  /// colour's layout (wrong length, character outside the plate alphabet).
  cv::Mat render_plate(const PlateSpec& plate, double px_per_mm) const;

  /// A plate in a small patch of background (for training): plate corners returned.
  Scene render_patch(const PlateSpec& plate, Condition condition, std::mt19937& rng) const;

  /// A vehicle front in a road scene of `size` with the plate, under `condition`.
  Scene render_scene(const PlateSpec& plate, Condition condition, std::mt19937& rng,
                     cv::Size size = {1920, 1080}) const;
  /// Dense traffic: several vehicle fronts, side by side (their lanes) and followers
  /// (smaller, higher); `vehicles[0]` is the weighed one (Scene::plate, corners; glare falls
  /// on its plate). Scene::plates lists all plates in `vehicles` order. Throws InputError
  /// when `vehicles` is empty.
  Scene render_traffic(const std::vector<VehicleInView>& vehicles, Condition condition,
                       std::mt19937& rng, cv::Size size = {1920, 1080}) const;
  /// The empty road (no vehicle in view).
  cv::Mat render_empty(Condition condition, std::mt19937& rng, cv::Size size = {1920, 1080}) const;

 private:
  const cv::Mat& glyph(const std::string& ch, int font) const;  // ink mask, cached
  // A vehicle front filling `vehicle`; returns where the plate's centre goes.
  cv::Point2f draw_vehicle(cv::Mat& canvas, const cv::Rect& vehicle, std::mt19937& rng) const;
  void place_plate(cv::Mat& canvas, cv::Mat& mask, const PlateSpec& plate, double px_per_mm,
                   cv::Point2f centre, std::mt19937& rng, Condition condition,
                   std::array<cv::Point2f, 4>& corners) const;

  std::vector<cv::Ptr<cv::freetype::FreeType2>> province_ft_, alnum_ft_;
  mutable std::map<std::pair<int, std::string>, cv::Mat> glyphs_;  // (font, character)
};

/// Applies the look of `condition` to a frame in place; `plate_mask` (CV_8U, 255 on the
/// plate) lets the night look make the retroreflective plate bright.
void apply_condition(cv::Mat& bgr, const cv::Mat& plate_mask, Condition condition,
                     std::mt19937& rng);

}  // namespace wim::hw
