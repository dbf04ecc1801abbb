// SPDX-License-Identifier: Apache-2.0
#include "wim/edge/station_group.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <thread>

#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/common/log.hpp"
#include "wim/edge/station_daemon.hpp"
#ifdef WIM_WITH_CAMERA
#include "wim/edge/camera_evidence.hpp"
#endif

namespace wim::edge {

namespace {

/// A station's camera evidence, taken only while one of the group's slots is free.
class GatedEvidence final : public PassEvidenceSource {
 public:
  GatedEvidence(PassEvidenceSource& inner, std::counting_semaphore<>& slots)
      : inner_(inner), slots_(slots) {}
  VehicleEvidence evidence_for(const record::Manifest& violation) override {
    slots_.acquire();
    try {
      auto ev = inner_.evidence_for(violation);
      slots_.release();
      return ev;
    } catch (...) {
      slots_.release();
      throw;
    }
  }
  std::vector<record::Manifest> take_events() override { return inner_.take_events(); }

 private:
  PassEvidenceSource& inner_;
  std::counting_semaphore<>& slots_;
};

}  // namespace

struct StationGroup::Member {
  std::filesystem::path config;
#ifdef WIM_WITH_CAMERA
  std::optional<StationCamera> camera;  // before station: must outlive it
#endif
  std::unique_ptr<GatedEvidence> evidence;
  std::unique_ptr<Station> station;
  std::string weighing_error;
  bool running = false;
};

std::vector<std::filesystem::path> station_configs_in(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir))
    throw InputError("--config-dir: '" + dir.string() + "' is not a directory");
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".json")
      out.push_back(e.path());
    else if (e.is_directory() && std::filesystem::is_regular_file(e.path() / "station.json"))
      out.push_back(e.path() / "station.json");
  }
  if (out.empty())
    throw InputError("--config-dir: '" + dir.string() +
                     "' holds no *.json and no */station.json station config");
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

/// Every mistake of every file at once: daemon fields, camera section, things two
/// stations would share (id, outbox, status socket).
void check_configs(const std::vector<std::filesystem::path>& configs) {
  std::vector<std::string> errors;
  std::map<std::string, std::string> ids, outboxes, sockets;  // value -> first file
  auto unique = [&](std::map<std::string, std::string>& seen, const std::string& value,
                    const std::string& file, const char* field) {
    auto [it, fresh] = seen.emplace(value, file);
    if (!fresh)
      errors.push_back(file + ": " + field + ": '" + value + "' is already used by " + it->second);
  };
  for (const auto& path : configs) {
    const std::string file = path.string();
    try {
      if (!std::filesystem::is_regular_file(path))
        throw InputError(file + ": no such station config file");
      const DaemonConfig c = load_daemon_config(path);
      unique(ids, c.station_id, file, "station_id");
      unique(outboxes, std::filesystem::weakly_canonical(c.outbox_path).string(), file,
             "outbox.path");
      unique(sockets, std::filesystem::weakly_canonical(c.status_socket).string(), file,
             "status.socket");
      const auto root = json::load_file(path);
      if (const auto* cam = json::as_object(root, file).if_contains("camera")) {
#ifdef WIM_WITH_CAMERA
        parse_camera_config(*cam, file + ": camera", path.parent_path());
#else
        (void)cam;
        throw InputError(file + ": camera: this build has no camera support (WIM_WITH_CAMERA=OFF)");
#endif
      }
    } catch (const InputError& e) {
      errors.push_back(e.what());
    }
  }
  if (errors.empty()) return;
  std::string msg = std::to_string(errors.size()) + " station config error(s), no station started:";
  for (const auto& e : errors) msg += "\n" + e;
  throw InputError(msg);
}

}  // namespace

StationGroup::StationGroup(std::vector<std::filesystem::path> configs,
                           StationGroupOptions options) {
  if (configs.empty()) throw InputError("no station config given");
  check_configs(configs);
#ifdef WIM_WITH_CAMERA
  readers_ = std::make_shared<SharedPlateReaders>();
#endif
  const unsigned slots = options.evidence_slots ? options.evidence_slots
                                                : std::max(1u, std::thread::hardware_concurrency());
  evidence_slots_ = std::make_unique<std::counting_semaphore<>>(slots);
  std::vector<std::filesystem::path> created;  // outboxes this build created
  try {
    for (const auto& path : configs) {
      auto m = std::make_unique<Member>();
      m->config = path;
      StationHooks hooks;
#ifdef WIM_WITH_CAMERA
      m->camera = load_camera(path, readers_.get());
      if (m->camera) {
        hooks.on_truth = m->camera->on_truth;
        m->evidence = std::make_unique<GatedEvidence>(*m->camera->evidence, *evidence_slots_);
        hooks.evidence = m->evidence.get();
      }
#endif
      hooks.on_weighing_end = [this, index = stations_.size()](bool failed) {
        if (!failed) return;
        std::lock_guard lk(mu_);
        failed_.push_back(index);
        cv_.notify_all();
      };
      if (options.adjust_hooks) options.adjust_hooks(hooks);
      const auto outbox = load_daemon_config(path).outbox_path;
      const bool existed = std::filesystem::exists(outbox);
      try {
        m->station = std::make_unique<Station>(path, options.new_chain, std::move(hooks));
      } catch (const InputError& e) {
        const std::string what = e.what();
        // Messages of the config loaders name the file already; others get it here.
        throw InputError(what.find(path.string()) == std::string::npos ? path.string() + ": " + what
                                                                       : what);
      }
      if (!existed) created.push_back(outbox);
      stations_.push_back(std::move(m));
    }
  } catch (...) {
    stations_.clear();  // none started: nothing sealed
    for (const auto& p : created)
      for (const char* suffix : {"", "-wal", "-shm"}) {
        std::error_code ec;
        std::filesystem::remove(p.string() + suffix, ec);
      }
    throw;
  }
  log::notice("station", "built " + std::to_string(stations_.size()) + " stations, " +
                             std::to_string(plate_models_loaded()) + " plate reader model(s), " +
                             std::to_string(slots) + " evidence slot(s)");
}

StationGroup::~StationGroup() {
  try {
    stop("destroyed");
  } catch (const std::exception& e) {
    log::error("station", e.what());
  }
}

Station& StationGroup::station(std::size_t i) {
  return *stations_.at(i)->station;
}

std::size_t StationGroup::plate_models_loaded() const {
#ifdef WIM_WITH_CAMERA
  return readers_ ? readers_->loaded() : 0;
#else
  return 0;
#endif
}

void StationGroup::start() {
  for (auto& m : stations_) {
    m->station->start();
    m->running = true;
  }
}

std::vector<std::string> StationGroup::stop_failed() {
  std::vector<std::size_t> failed;
  {
    std::lock_guard lk(mu_);
    failed.swap(failed_);
  }
  std::vector<std::string> ids;
  for (auto i : failed) {
    Member& m = *stations_[i];
    if (!m.running) continue;
    const std::string error = m.station->weighing_error();
    m.station->stop("weighing failed: " + error);
    m.running = false;
    ++failed_total_;
    ids.push_back(m.station->config().station_id);
    log::error("station", m.station->config().station_id + " stopped: weighing failed: " + error);
  }
  return ids;
}

void StationGroup::wait_for_failure(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, timeout, [&] { return !failed_.empty(); });
}

void StationGroup::stop(const std::string& reason) {
  // In parallel: each stop joins its station's threads and waits for its uplink.
  std::vector<std::thread> stoppers;
  for (auto& m : stations_) {
    if (!m->running) continue;
    m->running = false;
    Station* s = m->station.get();
    stoppers.emplace_back([s, &reason] {
      try {
        s->stop(reason);
      } catch (const std::exception& e) {
        log::error("station", s->config().station_id + ": stop: " + e.what());
      }
    });
  }
  for (auto& t : stoppers) t.join();
}

}  // namespace wim::edge
