// SPDX-License-Identifier: Apache-2.0
// wim_workbench_records OUT_DIR NOW_UNIX_S: two simulated stations' signed chains for the
// browser test of the workbench (tests/browser/workbench.test.mjs), stamped shortly before
// NOW so the statistics show today. Writes OUT_DIR/keys/<id>.pub.pem (the registered key)
// and OUT_DIR/<id>.tar (the chain: a start event, passes within the limit and overload
// violations with a real plate photo from tests/data/anpr (its truth.tsv plate) and a raw
// waveform). Which violation is which (plate, excess, "a human must read the plate") is printed as
// JSON lines on stdout for the test to look for.
#include <boost/json.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "wim/common/chain.hpp"
#include "wim/common/crypto.hpp"
#include "wim/common/packet.hpp"
#include "wim/common/record.hpp"

namespace {

using namespace wim;

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write(const std::filesystem::path& p, const std::string& bytes) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out.flush()) throw std::runtime_error("cannot write " + p.string());
}

/// One lane's raw counts around a pass, 4 kHz (t_us, left and right strip of row 1): a
/// half-sine pulse per axle as the wheel crosses a 7 cm strip at `speed_kmh`, on a
/// baseline of 12 counts with a small ripple (the shape of a piezo/quartz strip signal).
std::string waveform(const std::vector<double>& loads_kg, const std::vector<double>& spacings_m,
                     double speed_kmh) {
  const double v_ms = speed_kmh / 3.6, strip_m = 0.07, rate_hz = 4000;
  std::vector<double> at_s{0.05};  // [s] first axle on the strip
  for (double s : spacings_m) at_s.push_back(at_s.back() + s / v_ms);
  const double dur_s = at_s.back() + 0.1;
  std::string csv = "t_us,L1R1L,L1R1R\n";
  for (int i = 0; i < static_cast<int>(dur_s * rate_hz); ++i) {
    const double t = i / rate_hz;
    double l = 12 + 2 * std::sin(t * 2 * M_PI * 50), r = 10 + 2 * std::cos(t * 2 * M_PI * 50);
    for (std::size_t a = 0; a < at_s.size(); ++a) {
      const double x = (t - at_s[a]) * v_ms / strip_m;  // [-] 0..1 while on the strip
      if (x > 0 && x < 1) {
        const double c = std::sin(M_PI * x) * loads_kg[a] / 2 * 0.25;  // counts per kg
        l += c * 1.02;
        r += c * 0.98;
      }
    }
    csv += std::to_string(static_cast<std::int64_t>(t * 1e6)) + "," +
           std::to_string(std::lround(l)) + "," + std::to_string(std::lround(r)) + "\n";
  }
  return csv;
}

struct Violation {
  std::string plate, true_plate, colour, photo;  // as the station read it; in the photo
  double confidence;
  bool needs_human;
  std::vector<double> loads_kg;  // 5 axles, limit 43 000 kg
};

record::Manifest base(const std::string& id, std::int64_t t_us) {
  record::Manifest m;
  m.station_id = id;
  m.lane = 1;
  m.time_unix_us = t_us;
  m.clock_sync = time::ClockSync::synced;
  m.clock_offset_ms = 0.4;
  m.software_sha256 = std::string(64, 'a');
  m.calibration_id = "CAL-" + id + "-2026-11";
  return m;
}

record::Manifest vehicle(const std::string& id, std::int64_t t_us, std::vector<double> loads_kg) {
  auto m = base(id, t_us);
  record::Measurement x;
  x.lane = 1;
  x.speed_kmh = 58.0;
  x.axle_spacings_m = {3.2, 1.35, 6.1, 1.31};
  x.axle_loads_kg = loads_kg;
  x.gross_kg = 0;
  for (double l : loads_kg) x.gross_kg += l;
  x.axle_config = "1-2-22";
  x.vehicle_class = "combination";
  x.fit_for_enforcement = true;
  x.camera_present = true;
  const double limit = 43000;
  const double excess = x.gross_kg - limit;
  m.kind = excess > 0 ? record::Kind::violation : record::Kind::pass;
  if (m.kind == record::Kind::pass) x.plate_hash = std::string(64, 'b');
  m.measurement = x;
  m.legal =
      record::LegalBasis{limit,          "GB1589-2016/MOT-2016-62 art.3: 5 axles", {}, {}, excess,
                         excess / limit, excess > 0 ? "overload" : "within",       ""};
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: wim_workbench_records OUT_DIR NOW_UNIX_S\n";
    return 2;
  }
  try {
    const std::filesystem::path out = argv[1];
    const std::int64_t now_us = std::stoll(argv[2]) * 1'000'000;
    const std::filesystem::path photos = std::string(WIM_SOURCE_DIR) + "/tests/data/anpr";
    // G001: three violations (one at 3.2 t over, one a human must read, one 800 kg over:
    // a warning only); G002: one violation. Passes in between, so the overload rate is
    // below one.
    const std::vector<std::pair<std::string, std::vector<Violation>>> stations{
        {"G001",
         {{"青S38938",
           "青S38938",
           "blue",
           "01-blue-clear_day.jpg",
           0.94,
           false,
           {7100, 9900, 9900, 9650, 9650}},
          {"川X2M3B7",
           "川X2M387",
           "yellow",
           "02-yellow-clear_day.jpg",
           0.41,
           true,
           {7400, 10800, 10800, 10200, 10200}},
          {"新Z57A58",
           "新Z57A58",
           "yellow",
           "10-yellow-glare.jpg",
           0.91,
           false,
           {6900, 9300, 9300, 9150, 9150}}}},
        {"G002",
         {{"渝XF77615",
           "渝XF77615",
           "green",
           "04-green-dusk.jpg",
           0.88,
           false,
           {7200, 10400, 10400, 9900, 9900}}}}};
    int n_station = 0;
    for (const auto& [id, violations] : stations) {
      auto key = crypto::SigningKey::generate();
      write(out / "keys" / (id + ".pub.pem"), key.public_key().to_pem());
      chain::ChainWriter w(id, key, 0, "");
      std::vector<packet::Packet> ps;
      // Ten minutes before now, a record every 20 s (both stations' records today, UTC,
      // unless the test runs in the first 10 minutes after midnight).
      std::int64_t t = now_us - 600'000'000 + n_station++ * 5'000'000;
      auto start = base(id, t);
      start.kind = record::Kind::event;
      start.event = record::Event{"station_start", {{"reason", "boot"}, {"uptime_s", 3}}};
      ps.push_back(w.append(start, {}));
      for (const auto& v : violations) {
        for (int i = 0; i < 2; ++i)
          ps.push_back(w.append(vehicle(id, t += 20'000'000, {6400, 8100, 8000, 7900, 7700}), {}));
        auto m = vehicle(id, t += 20'000'000, v.loads_kg);
        m.measurement->plate = record::Plate{v.plate, v.colour, v.confidence, v.needs_human};
        std::map<std::string, std::string> att{
            {"plate.jpg", slurp(photos / v.photo)},
            {"waveform.csv",
             waveform(m.measurement->axle_loads_kg, m.measurement->axle_spacings_m, 58.0)}};
        const auto p = w.append(m, att);
        ps.push_back(p);
        char seq[16];
        std::snprintf(seq, sizeof seq, "%010llu", static_cast<unsigned long long>(w.last_seq()));
        boost::json::object o{{"case_id", id + "-" + seq},
                              {"plate", v.plate},
                              {"true_plate", v.true_plate},
                              {"needs_human", v.needs_human},
                              {"excess_kg", m.legal->excess_kg}};
        std::cout << boost::json::serialize(o) << "\n";
      }
      write(out / (id + ".tar"), packet::to_tar(ps));
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "wim_workbench_records: " << e.what() << "\n";
    return 1;
  }
}
