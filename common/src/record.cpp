// SPDX-License-Identifier: Apache-2.0
#include "wim/common/record.hpp"

#include <array>
#include <cmath>
#include <initializer_list>

#include "wim/common/error.hpp"
#include "wim/common/json.hpp"

namespace wim::record {
namespace {

namespace bj = boost::json;
using json::field_path;

constexpr std::array kKnownEvents = {"station_start",      "station_stop", "sensor_fault",
                                     "sensor_recovered",   "lost_samples", "config_change",
                                     "calibration_change", "clock_step",   "disk_pressure",
                                     "thinning",           "key_change"};

[[noreturn]] void fail(std::string_view field, std::string_view what) {
  throw InputError("manifest." + std::string(field) + ": " + std::string(what));
}

// Whole numbers print as integers ("18000", not "1.8E4"): readable by a reviewer and
// stable through a parse/serialise round trip.
bj::value num(double d) {
  if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9.0e15)
    return bj::value(static_cast<std::int64_t>(d));
  return bj::value(d);
}

bj::array num_array(const std::vector<double>& v) {
  bj::array a;
  for (double d : v) a.push_back(num(d));
  return a;
}

bj::array str_array(const std::vector<std::string>& v) {
  bj::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

void check_finite(double d, std::string_view field) {
  if (!std::isfinite(d)) fail(field, "expected a finite number");
}

void check_non_negative(double d, std::string_view field) {
  check_finite(d, field);
  if (d < 0) fail(field, "must not be negative");
}

void validate_measurement(const Measurement& m, const Manifest& mf) {
  if (m.lane < 1) fail("measurement.lane", "must be 1 or more");
  if (m.lane != mf.lane) fail("measurement.lane", "differs from manifest.lane");
  check_non_negative(m.speed_kmh, "measurement.speed_kmh");
  check_non_negative(m.gross_kg, "measurement.gross_kg");
  for (std::size_t i = 0; i < m.axle_loads_kg.size(); ++i)
    check_non_negative(m.axle_loads_kg[i], "measurement.axle_loads_kg[" + std::to_string(i) + "]");
  for (std::size_t i = 0; i < m.axle_spacings_m.size(); ++i)
    check_non_negative(m.axle_spacings_m[i],
                       "measurement.axle_spacings_m[" + std::to_string(i) + "]");
  if (!m.axle_loads_kg.empty() && m.axle_spacings_m.size() + 1 != m.axle_loads_kg.size())
    fail("measurement.axle_spacings_m", "expected one spacing fewer than axle_loads_kg");
  if (!m.axles.empty() && m.axles.size() != m.axle_loads_kg.size())
    fail("measurement.axles", "expected one entry per axle_loads_kg entry");
  for (std::size_t i = 0; i < m.axles.size(); ++i) {
    auto ctx = "measurement.axles[" + std::to_string(i) + "]";
    check_non_negative(m.axles[i].left_wheel_kg, ctx + ".left_wheel_kg");
    check_non_negative(m.axles[i].right_wheel_kg, ctx + ".right_wheel_kg");
  }
  if (m.fit_for_enforcement && !m.invalid_reasons.empty())
    fail("measurement.invalid_reasons", "must be empty when fit_for_enforcement is true");
  if (m.plate) {
    if (mf.kind == Kind::pass)
      fail("measurement.plate", "a pass record carries no plate text (privacy rule)");
    check_finite(m.plate->confidence, "measurement.plate.confidence");
    if (m.plate->confidence < 0 || m.plate->confidence > 1)
      fail("measurement.plate.confidence", "must be within 0..1");
  }
  if (!m.camera_problem.empty() && !m.camera_present)
    fail("measurement.camera_problem", "set while camera_present is false (no camera)");
  if (!m.plate_hash.empty() && !is_sha256_hex(m.plate_hash))
    fail("measurement.plate_hash", "expected 64 lower-case hex digits");
}

void validate_legal(const LegalBasis& l) {
  check_finite(l.limit_kg, "legal.limit_kg");
  if (l.limit_kg <= 0) fail("legal.limit_kg", "must be positive");
  if (l.rule.empty()) fail("legal.rule", "must name the rule applied");
  if (l.tolerance_kg) check_non_negative(*l.tolerance_kg, "legal.tolerance_kg");
  if (l.tolerance_pct) check_non_negative(*l.tolerance_pct, "legal.tolerance_pct");
  check_finite(l.excess_kg, "legal.excess_kg");
  check_finite(l.overload_ratio, "legal.overload_ratio");
  if (l.verdict != "within" && l.verdict != "warning" && l.verdict != "overload")
    fail("legal.verdict",
         "expected \"within\", \"warning\" or \"overload\", got \"" + l.verdict + "\"");
}

// --- JSON -> struct -------------------------------------------------------------------

// Rejects keys the format does not define: what is signed must mean exactly what we read.
void only_keys(const bj::object& o, std::string_view ctx,
               std::initializer_list<std::string_view> allowed) {
  for (const auto& kv : o) {
    bool ok = false;
    for (auto a : allowed) ok = ok || kv.key() == a;
    if (!ok) throw InputError(field_path(ctx, kv.key()) + ": unknown field");
  }
}

std::vector<double> get_numbers(const bj::object& o, std::string_view key, std::string_view ctx) {
  std::vector<double> out;
  const auto& a = json::get_array(o, key, ctx);
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto& v = a[i];
    auto where = field_path(ctx, key) + "[" + std::to_string(i) + "]";
    if (v.is_double())
      out.push_back(v.get_double());
    else if (v.is_int64())
      out.push_back(static_cast<double>(v.get_int64()));
    else if (v.is_uint64())
      out.push_back(static_cast<double>(v.get_uint64()));
    else
      throw InputError(where + ": expected a number");
  }
  return out;
}

std::vector<std::string> get_strings(const bj::object& o, std::string_view key,
                                     std::string_view ctx) {
  std::vector<std::string> out;
  const auto& a = json::get_array(o, key, ctx);
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_string())
      throw InputError(field_path(ctx, key) + "[" + std::to_string(i) + "]: expected a string");
    out.emplace_back(a[i].get_string());
  }
  return out;
}

bool get_bool_req(const bj::object& o, std::string_view key, std::string_view ctx) {
  const auto& v = json::require(o, key, ctx);
  if (!v.is_bool()) throw InputError(field_path(ctx, key) + ": expected true or false");
  return v.get_bool();
}

int get_small_int(const bj::object& o, std::string_view key, std::string_view ctx) {
  auto v = json::get_int(o, key, ctx);
  if (v < 0 || v > 1000000) throw InputError(field_path(ctx, key) + ": out of range");
  return static_cast<int>(v);
}

Measurement measurement_from(const bj::value& v) {
  const std::string ctx = "manifest.measurement";
  const auto& o = json::as_object(v, ctx);
  only_keys(o, ctx,
            {"lane", "speed_kmh", "axle_loads_kg", "axle_spacings_m", "axles", "gross_kg",
             "axle_config", "vehicle_class", "fit_for_enforcement", "invalid_reasons", "plate",
             "plate_hash", "camera_present", "camera_problem"});
  Measurement m;
  m.lane = get_small_int(o, "lane", ctx);
  m.speed_kmh = json::get_number(o, "speed_kmh", ctx);
  m.axle_loads_kg = get_numbers(o, "axle_loads_kg", ctx);
  m.axle_spacings_m = get_numbers(o, "axle_spacings_m", ctx);
  if (o.contains("axles")) {
    const auto& a = json::get_array(o, "axles", ctx);
    for (std::size_t i = 0; i < a.size(); ++i) {
      auto actx = ctx + ".axles[" + std::to_string(i) + "]";
      const auto& ao = json::as_object(a[i], actx);
      only_keys(ao, actx, {"left_wheel_kg", "right_wheel_kg"});
      m.axles.push_back({json::get_number(ao, "left_wheel_kg", actx),
                         json::get_number(ao, "right_wheel_kg", actx)});
    }
  }
  m.gross_kg = json::get_number(o, "gross_kg", ctx);
  m.axle_config = json::get_string(o, "axle_config", ctx);
  m.vehicle_class = json::get_string(o, "vehicle_class", ctx);
  m.fit_for_enforcement = get_bool_req(o, "fit_for_enforcement", ctx);
  m.invalid_reasons = get_strings(o, "invalid_reasons", ctx);
  if (o.contains("plate")) {
    auto pctx = ctx + ".plate";
    const auto& po = json::as_object(o.at("plate"), pctx);
    only_keys(po, pctx, {"text", "colour", "confidence", "needs_human_review"});
    Plate p;
    p.text = json::get_string(po, "text", pctx);
    p.colour = json::get_string(po, "colour", pctx);
    p.confidence = json::get_number(po, "confidence", pctx);
    p.needs_human_review = get_bool_req(po, "needs_human_review", pctx);
    m.plate = std::move(p);
  }
  m.plate_hash = json::get_string(o, "plate_hash", ctx, "");
  m.camera_present = get_bool_req(o, "camera_present", ctx);
  m.camera_problem = json::get_string(o, "camera_problem", ctx, "");
  return m;
}

LegalBasis legal_from(const bj::value& v) {
  const std::string ctx = "manifest.legal";
  const auto& o = json::as_object(v, ctx);
  only_keys(o, ctx,
            {"limit_kg", "rule", "tolerance_kg", "tolerance_pct", "excess_kg", "overload_ratio",
             "verdict", "ambiguity"});
  LegalBasis l;
  l.limit_kg = json::get_number(o, "limit_kg", ctx);
  l.rule = json::get_string(o, "rule", ctx);
  if (o.contains("tolerance_kg")) l.tolerance_kg = json::get_number(o, "tolerance_kg", ctx);
  if (o.contains("tolerance_pct")) l.tolerance_pct = json::get_number(o, "tolerance_pct", ctx);
  l.excess_kg = json::get_number(o, "excess_kg", ctx);
  l.overload_ratio = json::get_number(o, "overload_ratio", ctx);
  l.verdict = json::get_string(o, "verdict", ctx);
  l.ambiguity = json::get_string(o, "ambiguity", ctx, "");
  return l;
}

Event event_from(const bj::value& v) {
  const std::string ctx = "manifest.event";
  const auto& o = json::as_object(v, ctx);
  only_keys(o, ctx, {"type", "detail"});
  Event e;
  e.type = json::get_string(o, "type", ctx);
  e.detail = json::as_object(json::require(o, "detail", ctx), ctx + ".detail");
  return e;
}

}  // namespace

std::string_view to_string(Kind k) {
  switch (k) {
    case Kind::pass:
      return "pass";
    case Kind::violation:
      return "violation";
    case Kind::event:
      return "event";
  }
  return "?";
}

Kind kind_from_string(std::string_view s) {
  if (s == "pass") return Kind::pass;
  if (s == "violation") return Kind::violation;
  if (s == "event") return Kind::event;
  throw InputError("manifest.kind: expected \"pass\", \"violation\" or \"event\", got \"" +
                   std::string(s) + "\"");
}

bool is_known_event_type(std::string_view type) {
  for (auto k : kKnownEvents)
    if (type == k) return true;
  return false;
}

bool is_valid_attachment_name(std::string_view name) {
  if (name.empty() || name.size() > 100 || name.front() == '.') return false;
  if (name == "manifest.json" || name == "manifest.sig") return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool is_valid_station_id(std::string_view id) {
  if (id.empty() || id.size() > 32) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

void validate(const Manifest& m) {
  if (m.format_version != kFormatVersion)
    fail("format_version", "expected " + std::to_string(kFormatVersion) + ", got " +
                               std::to_string(m.format_version));
  if (!is_valid_station_id(m.station_id))
    fail("station_id", "expected 1..32 characters of [A-Za-z0-9_-], got \"" + m.station_id + "\"");
  if (m.seq < 1 || m.seq > 9999999999ULL) fail("seq", "must be within 1..9999999999");
  if (!is_sha256_hex(m.prev_sha256)) fail("prev_sha256", "expected 64 lower-case hex digits");
  if (m.seq == 1 && m.prev_sha256 != kGenesisSha256)
    fail("prev_sha256", "must be 64 '0' for seq 1");
  if (m.lane < 0 || m.lane > 64) fail("lane", "must be within 0..64");
  check_finite(m.clock_offset_ms, "clock_offset_ms");
  if (m.sealed_after_unix_us) {
    if (m.kind == Kind::event)
      fail("sealed_after_utc", "only a pass or violation record is sealed late");
    if (*m.sealed_after_unix_us <= m.time_unix_us)
      fail("sealed_after_utc",
           "must be later than time_utc (it marks a record older than its "
           "predecessor)");
  }
  if (!is_sha256_hex(m.software_sha256))
    fail("software_sha256", "expected 64 lower-case hex digits");
  switch (m.kind) {
    case Kind::pass:
    case Kind::violation:
      if (!m.measurement)
        fail("measurement", "required for a " + std::string(to_string(m.kind)) + " record");
      if (m.event) fail("event", "only event records carry an event");
      if (m.calibration_id.empty()) fail("calibration_id", "required for a measurement");
      validate_measurement(*m.measurement, m);
      if (m.kind == Kind::violation && !m.legal) fail("legal", "required for a violation record");
      break;
    case Kind::event:
      if (!m.event) fail("event", "required for an event record");
      if (m.measurement) fail("measurement", "an event record carries no measurement");
      if (m.legal) fail("legal", "an event record carries no legal basis");
      if (m.event->type.empty() || m.event->type.size() > 64)
        fail("event.type", "expected 1..64 characters");
      for (char c : m.event->type)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
          fail("event.type", "expected lower-case [a-z0-9_], got \"" + m.event->type + "\"");
      break;
  }
  if (m.legal) validate_legal(*m.legal);
  for (std::size_t i = 0; i < m.attachments.size(); ++i) {
    const auto& a = m.attachments[i];
    auto ctx = "attachments[" + std::to_string(i) + "]";
    if (!is_valid_attachment_name(a.name))
      fail(ctx + ".name", "not a safe file name: \"" + a.name + "\"");
    for (std::size_t j = 0; j < i; ++j)
      if (m.attachments[j].name == a.name) fail(ctx + ".name", "listed twice: " + a.name);
    if (a.media_type.empty()) fail(ctx + ".media_type", "must not be empty");
    if (!is_sha256_hex(a.sha256)) fail(ctx + ".sha256", "expected 64 lower-case hex digits");
    if (m.kind == Kind::pass &&
        (a.media_type.starts_with("image/") || a.media_type.starts_with("video/")))
      fail(ctx, "a pass record carries no image (privacy rule): " + a.name);
  }
}

std::string serialize(const Manifest& m) {
  validate(m);
  bj::object o;
  o["format_version"] = m.format_version;
  o["station_id"] = m.station_id;
  o["lane"] = m.lane;
  o["seq"] = m.seq;
  o["prev_sha256"] = m.prev_sha256;
  o["kind"] = to_string(m.kind);
  o["time_utc"] = time::format_utc_us(m.time_unix_us);
  if (m.sealed_after_unix_us) o["sealed_after_utc"] = time::format_utc_us(*m.sealed_after_unix_us);
  o["clock_sync"] = time::to_string(m.clock_sync);
  o["clock_offset_ms"] = num(m.clock_offset_ms);
  o["software_sha256"] = m.software_sha256;
  o["calibration_id"] = m.calibration_id;
  if (m.measurement) {
    const auto& x = *m.measurement;
    bj::object mo;
    mo["lane"] = x.lane;
    mo["speed_kmh"] = num(x.speed_kmh);
    mo["axle_loads_kg"] = num_array(x.axle_loads_kg);
    mo["axle_spacings_m"] = num_array(x.axle_spacings_m);
    if (!x.axles.empty()) {
      bj::array a;
      for (const auto& ax : x.axles)
        a.push_back(bj::object{{"left_wheel_kg", num(ax.left_wheel_kg)},
                               {"right_wheel_kg", num(ax.right_wheel_kg)}});
      mo["axles"] = std::move(a);
    }
    mo["gross_kg"] = num(x.gross_kg);
    mo["axle_config"] = x.axle_config;
    mo["vehicle_class"] = x.vehicle_class;
    mo["fit_for_enforcement"] = x.fit_for_enforcement;
    mo["invalid_reasons"] = str_array(x.invalid_reasons);
    if (x.plate)
      mo["plate"] = bj::object{{"text", x.plate->text},
                               {"colour", x.plate->colour},
                               {"confidence", num(x.plate->confidence)},
                               {"needs_human_review", x.plate->needs_human_review}};
    if (!x.plate_hash.empty()) mo["plate_hash"] = x.plate_hash;
    mo["camera_present"] = x.camera_present;
    if (!x.camera_problem.empty()) mo["camera_problem"] = x.camera_problem;
    o["measurement"] = std::move(mo);
  }
  if (m.legal) {
    const auto& l = *m.legal;
    bj::object lo;
    lo["limit_kg"] = num(l.limit_kg);
    lo["rule"] = l.rule;
    if (l.tolerance_kg) lo["tolerance_kg"] = num(*l.tolerance_kg);
    if (l.tolerance_pct) lo["tolerance_pct"] = num(*l.tolerance_pct);
    lo["excess_kg"] = num(l.excess_kg);
    lo["overload_ratio"] = num(l.overload_ratio);
    lo["verdict"] = l.verdict;
    if (!l.ambiguity.empty()) lo["ambiguity"] = l.ambiguity;
    o["legal"] = std::move(lo);
  }
  if (m.event) o["event"] = bj::object{{"type", m.event->type}, {"detail", m.event->detail}};
  bj::array atts;
  for (const auto& a : m.attachments)
    atts.push_back(bj::object{{"name", a.name},
                              {"media_type", a.media_type},
                              {"sha256", a.sha256},
                              {"size_bytes", a.size_bytes}});
  o["attachments"] = std::move(atts);
  return json::canonical(o);
}

Manifest parse_manifest(std::string_view text) {
  const std::string ctx = "manifest";
  auto doc = json::parse(text, "manifest.json");
  const auto& o = json::as_object(doc, ctx);
  only_keys(o, ctx,
            {"format_version", "station_id", "lane", "seq", "prev_sha256", "kind", "time_utc",
             "sealed_after_utc", "clock_sync", "clock_offset_ms", "software_sha256",
             "calibration_id", "measurement", "legal", "event", "attachments"});
  Manifest m;
  m.format_version = get_small_int(o, "format_version", ctx);
  m.station_id = json::get_string(o, "station_id", ctx);
  m.lane = get_small_int(o, "lane", ctx);
  auto seq = json::get_int(o, "seq", ctx);
  if (seq < 1) fail("seq", "must be 1 or more");
  m.seq = static_cast<std::uint64_t>(seq);
  m.prev_sha256 = json::get_string(o, "prev_sha256", ctx);
  m.kind = kind_from_string(json::get_string(o, "kind", ctx));
  try {
    m.time_unix_us = time::parse_utc(json::get_string(o, "time_utc", ctx));
  } catch (const InputError& e) {
    fail("time_utc", e.what());
  }
  if (o.contains("sealed_after_utc")) {
    try {
      m.sealed_after_unix_us = time::parse_utc(json::get_string(o, "sealed_after_utc", ctx));
    } catch (const InputError& e) {
      fail("sealed_after_utc", e.what());
    }
  }
  try {
    m.clock_sync = time::clock_sync_from_string(json::get_string(o, "clock_sync", ctx));
  } catch (const InputError& e) {
    fail("clock_sync", e.what());
  }
  m.clock_offset_ms = json::get_number(o, "clock_offset_ms", ctx);
  m.software_sha256 = json::get_string(o, "software_sha256", ctx);
  m.calibration_id = json::get_string(o, "calibration_id", ctx);
  if (o.contains("measurement")) m.measurement = measurement_from(o.at("measurement"));
  if (o.contains("legal")) m.legal = legal_from(o.at("legal"));
  if (o.contains("event")) m.event = event_from(o.at("event"));
  const auto& atts = json::get_array(o, "attachments", ctx);
  for (std::size_t i = 0; i < atts.size(); ++i) {
    auto actx = ctx + ".attachments[" + std::to_string(i) + "]";
    const auto& ao = json::as_object(atts[i], actx);
    only_keys(ao, actx, {"name", "media_type", "sha256", "size_bytes"});
    Attachment a;
    a.name = json::get_string(ao, "name", actx);
    a.media_type = json::get_string(ao, "media_type", actx);
    a.sha256 = json::get_string(ao, "sha256", actx);
    auto size = json::get_int(ao, "size_bytes", actx);
    if (size < 0) throw InputError(actx + ".size_bytes: must not be negative");
    a.size_bytes = static_cast<std::uint64_t>(size);
    m.attachments.push_back(std::move(a));
  }
  validate(m);
  return m;
}

}  // namespace wim::record
