// SPDX-License-Identifier: Apache-2.0
// wim-collector --config collector.json | export ... | check-config FILE | add-user ...
// Serves stations (HTTPS, mutual TLS) and operators (plain HTTP, 127.0.0.1); reloads the
// station registry on SIGHUP; stops cleanly on SIGINT/SIGTERM.
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/program_options.hpp>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <string_view>
#include <thread>

#include "cmd_backup.hpp"
#include "cmd_case_export.hpp"
#include "cmd_export.hpp"
#include "cmd_options.hpp"
#include "cmd_retention.hpp"
#include "cmd_station_cert.hpp"
#include "cmd_users.hpp"
#include "wim/collector/api.hpp"
#include "wim/collector/config.hpp"
#include "wim/collector/retention.hpp"
#include "wim/collector/transition_webhook.hpp"
#include "wim/collector/users.hpp"
#include "wim/collector/workbench.hpp"
#include "wim/common/error.hpp"
#include "wim/common/log.hpp"
#include "wim/common/time.hpp"

namespace po = boost::program_options;
using namespace wim::collector;

namespace {

void schedule_tick(boost::asio::steady_timer& timer, Monitor& monitor,
                   std::shared_ptr<RegistryHolder> registry, std::int64_t tick_s) {
  timer.expires_after(std::chrono::seconds(tick_s));
  timer.async_wait([&timer, &monitor, registry, tick_s](boost::system::error_code ec) {
    if (ec) return;
    std::vector<std::string> ids;
    for (const auto& s : registry->current()->stations())
      if (!s.revoked) ids.push_back(s.id);
    monitor.tick(ids, wim::time::now_unix_us());
    schedule_tick(timer, monitor, registry, tick_s);
  });
}

/// wim-collector check-config [--config] FILE: every mistake of the config, its registry
/// and the files they name, one a line on stderr ("<file>: <JSON pointer>: <expected>").
/// Exit 0 clean, 1 mistakes found, 2 usage. Starts nothing, writes nothing.
int run_check_config(int argc, char** argv) {
  std::string path;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << "usage: wim-collector check-config [--config] collector.json\n"
                   "  reports every mistake of the config, its registry and the files they\n"
                   "  name (file: /json/pointer: what is expected); exit 1 when any\n";
      return 0;
    }
    if ((a == "--config" || a == "-c") && i + 1 < argc)
      path = argv[++i];
    else if (path.empty() && !a.starts_with("-"))
      path = a;
    else {
      std::cerr << "wim-collector check-config: unexpected argument " << a << "\n";
      return 2;
    }
  }
  if (path.empty()) {
    std::cerr << "usage: wim-collector check-config [--config] collector.json\n";
    return 2;
  }
  const auto problems = check_config(path);
  for (const auto& p : problems.list()) std::cerr << p.text() << "\n";
  if (!problems.empty()) {
    std::cerr << "wim-collector check-config: " << problems.list().size() << " problem"
              << (problems.list().size() == 1 ? "" : "s") << "\n";
    return 1;
  }
  const auto cfg = CollectorConfig::load_file(path);
  std::cout << path << ": ok (registry " << cfg.registry.string() << ": "
            << Registry::load_file(cfg.registry).stations().size() << " stations)\n";
  // What the backup commands will do with this config.
  if (const auto sk = backup_signing_key(cfg))
    std::cout << "backups: signed with " << cfg.backup_signing_key.string() << " ("
              << sk->public_key().fingerprint() << ")\n";
  else
    std::cout << "backups: no /backup/signing_key: `backup` needs --unsigned on this machine\n";
  if (const auto vk = backup_verify_key(cfg))
    std::cout << "restores: backup.json.sig checked with " << vk->fingerprint() << "\n";
  else
    std::cout << "restores: no backup key: verify-backup and restore need --unsigned\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "export") return run_export(argc - 1, argv + 1);
  if (argc > 1 && std::string_view(argv[1]) == "add-user") return run_add_user(argc - 1, argv + 1);
  if (argc > 1 && std::string_view(argv[1]) == "station-cert")
    return run_station_cert(argc - 1, argv + 1);
  if (argc > 1 && std::string_view(argv[1]) == "check-config")
    return run_check_config(argc - 1, argv + 1);
  if (argc > 1 &&
      (std::string_view(argv[1]) == "backup" || std::string_view(argv[1]) == "restore" ||
       std::string_view(argv[1]) == "verify-backup" ||
       std::string_view(argv[1]) == "backup-keygen"))
    return run_backup_command(argc - 1, argv + 1);
  if (argc > 1 && std::string_view(argv[1]) == "purge-images")
    return run_purge_images(argc - 1, argv + 1);
  if (argc > 1 && std::string_view(argv[1]).starts_with("export-"))
    if (int rc = run_case_export(argc - 1, argv + 1); rc >= 0) return rc;
  const auto opts = command_options("");
  po::variables_map vm;
  if (const auto rc = parse_command_line(
          argc, argv, "", opts,
          "usage: wim-collector --config collector.json\n"
          "       wim-collector export --config collector.json --station ID --out DIR\n"
          "         (a station's stored chain as tars for wim-verify; --help there)\n"
          "       wim-collector add-user --config collector.json --user NAME --role ROLE\n"
          "         (a workbench user; password on stdin; --help there)\n"
          "       wim-collector check-config collector.json\n"
          "         (every mistake of the config and its registry; exit 1 when any)\n"
          "       wim-collector backup|verify-backup|restore --config collector.json DIR\n"
          "         (online backup with a signed manifest, verified restore;\n"
          "         docs/backup-restore.md)\n"
          "       wim-collector backup-keygen --config collector.json\n"
          "         (once: the key pair that signs backups, at the config's /backup)\n"
          "       wim-collector station-cert add|retire|list STATION ...\n"
          "         (a station's TLS certificate in the registry; --help there)\n"
          "       wim-collector export-case|export-audit|export-closed ... (--help; "
          "docs/case-export.md)\n"
          "       wim-collector purge-images --config collector.json\n"
          "         (violation images past /retention; docs/retention.md)\n",
          vm))
    return *rc;
  try {
    auto cfg = CollectorConfig::load_file(vm["config"].as<std::string>());
    auto registry = std::make_shared<RegistryHolder>(cfg.registry);
    std::filesystem::create_directories(cfg.data_dir);
    auto store = open_sqlite_store(cfg.data_dir / "meta.db");
    FileBlobStore blobs(cfg.data_dir / "blobs", cfg.blob_sync);
    Ingest ingest(*store, blobs, registry, cfg.ingest);
    Monitor monitor(*store, cfg.monitor, cfg.data_dir / "monitor.db");
    ingest.add_observer(&monitor);
    Api api(ingest, *store, monitor, registry);
    // A case's first deadline: the transport review's working time on the review calendar.
    cfg.forward.first_deadline = [review = cfg.review](std::int64_t created_us) {
      return review.calendar.add(created_us, review.transport_working_s);
    };
    // The review (cases.db, the audit chain signed by the collector's key); before the
    // Forwarder: the spool sink writes the retention entries of a case purged while its
    // delivery waited.
    const auto audit_key = load_or_create_audit_key(cfg);
    Review review(
        cfg.data_dir / "cases.db", wim::crypto::SigningKey::from_pem(audit_key.to_pem()),
        cfg.review, [] { return wim::time::now_unix_us(); },
        [&](const std::string& id) { return stored_plate(*store, blobs, id); });
    cfg.forward.purged_by_retention = [meta = cfg.data_dir / "meta.db"](const std::string& sha,
                                                                        const std::string& name) {
      return purged_by_retention(meta, sha, name);
    };
    Forwarder forwarder(cfg.data_dir / "cases.db", *store, blobs, cfg.forward);
    if (!cfg.spool_dir.empty())
      forwarder.add_sink(std::make_unique<SpoolSink>(
          cfg.spool_dir,
          [&](const std::string& id) {
            const auto* e = registry->current()->by_id(id);
            return e && e->signing_key ? e->signing_key->to_pem() : std::string();
          },
          [&](const std::filesystem::path& dir, const Case& c) {
            write_spool_retention_files(dir, c.case_id, c.manifest_sha256, review);
          }));
    if (!cfg.webhook_url.empty())
      forwarder.add_sink(std::make_unique<WebhookSink>(
          cfg.webhook_url, std::chrono::milliseconds(cfg.webhook_timeout_ms)));
    forwarder.catch_up(wim::time::now_unix_us());
    ingest.add_observer(&forwarder);
    api.set_forwarder(&forwarder);

    boost::asio::io_context ioc(cfg.threads);
    auto tls = make_server_tls(cfg.tls_cert, cfg.tls_key, cfg.tls_ca);
    Server stations(ioc, cfg.station_listen,
                    AsyncHandler([&](Request&& r, const Peer& p, Respond respond) {
                      api.station_async(std::move(r), p, std::move(respond));
                    }),
                    &tls, registry);
    Server operators(ioc, cfg.operator_listen,
                     [&](const Request& r, const Peer& p) { return api.operators(r, p); });
    api.set_server_counters(&stations.counters());

    // The review transitions webhook, then the workbench (review by people, over HTTPS).
    std::unique_ptr<TransitionWebhook> transitions;
    if (!cfg.transition_webhook_url.empty())
      transitions = std::make_unique<TransitionWebhook>(
          cfg.data_dir / "cases.db", review, wim::crypto::SigningKey::from_pem(audit_key.to_pem()),
          cfg.transition_webhook_url, std::chrono::milliseconds(cfg.webhook_timeout_ms),
          cfg.forward.retry_initial_ms, cfg.forward.retry_max_ms);
    api.set_transitions(transitions.get());
    Users users(cfg.data_dir / "users.db");
    std::optional<boost::asio::ssl::context> browser_tls;
    std::unique_ptr<Workbench> workbench;
    std::unique_ptr<Server> workbench_server;
    if (cfg.workbench) {
      browser_tls.emplace(make_browser_tls(cfg.workbench_tls_cert, cfg.workbench_tls_key));
      workbench = std::make_unique<Workbench>(review, users, api, *store, blobs, registry,
                                              cfg.workbench_options,
                                              [] { return wim::time::now_unix_us(); });
      workbench_server = std::make_unique<Server>(
          ioc, cfg.workbench_listen,
          [&](const Request& r, const Peer& p) { return workbench->handle(r, p); }, &*browser_tls);
      wim::log::notice("collector", "workbench: https://" + cfg.workbench_listen.address + ":" +
                                        std::to_string(workbench_server->port()) + "/ (" +
                                        std::to_string(users.count()) + " users" +
                                        (users.count() ? "" : "; add one: wim-collector add-user") +
                                        ")");
    }
    wim::log::notice("collector",
                     "stations: https://" + cfg.station_listen.address + ":" +
                         std::to_string(stations.port()) + " operators: http://" +
                         cfg.operator_listen.address + ":" + std::to_string(operators.port()) +
                         " registry: " + std::to_string(registry->current()->stations().size()) +
                         " stations");

    boost::asio::signal_set stop_signals(ioc, SIGINT, SIGTERM);
    stop_signals.async_wait([&](boost::system::error_code, int sig) {
      wim::log::notice("collector", "signal " + std::to_string(sig) + ": stopping");
      ioc.stop();
    });
    boost::asio::signal_set hup(ioc, SIGHUP);
    std::function<void()> wait_hup = [&] {
      hup.async_wait([&](boost::system::error_code ec, int) {
        if (ec) return;
        registry->reload();
        wait_hup();
      });
    };
    wait_hup();
    boost::asio::steady_timer tick(ioc);
    schedule_tick(tick, monitor, registry, cfg.monitor_tick_s);

    // Deliveries run on their own thread: a slow webhook never blocks the ingest.
    std::mutex fwd_mutex;
    std::condition_variable fwd_cv;
    bool fwd_stop = false;
    // The retention purge (docs/retention.md) runs on this thread too: at start, then
    // hourly; GET /v1/retention and /metrics show how it went.
    std::unique_ptr<RetentionRunner> retention;
    if (cfg.retention_images_days > 0) {
      retention = std::make_unique<RetentionRunner>(cfg.data_dir / "meta.db", blobs, *store, review,
                                                    cfg.retention_images_days, 3600LL * 1'000'000,
                                                    cfg.spool_dir);
      api.set_retention(retention.get());
    }
    std::thread fwd_thread([&] {
      std::unique_lock lock(fwd_mutex);
      while (!fwd_stop) {
        lock.unlock();
        try {
          forwarder.pump(wim::time::now_unix_us());
          if (transitions) transitions->pump(wim::time::now_unix_us());
        } catch (const std::exception& e) {
          wim::log::error("forward", e.what());
        }
        if (retention && retention->run_if_due(wim::time::now_unix_us())) {
          const auto st = retention->status();
          if (!st.last_ok)
            wim::log::error("retention", st.last_error + " (retried in an hour)");
          else if (!st.last.cases.empty() || st.last.files_removed || st.last.spool_rewritten)
            wim::log::notice("retention", std::to_string(st.last.cases.size()) + " case(s), " +
                                              std::to_string(st.last.files_removed) +
                                              " image file(s) removed, " +
                                              std::to_string(st.last.spool_rewritten) +
                                              " spool tar(s) rewritten");
        }
        lock.lock();
        fwd_cv.wait_for(lock, std::chrono::milliseconds(cfg.forward_tick_ms),
                        [&] { return fwd_stop; });
      }
    });
    std::vector<std::thread> threads;
    for (int i = 1; i < cfg.threads; ++i) threads.emplace_back([&] { ioc.run(); });
    ioc.run();
    for (auto& t : threads) t.join();
    ingest.stop();  // answers (posted to the stopped io_context) before it goes away
    {
      std::lock_guard lock(fwd_mutex);
      fwd_stop = true;
    }
    fwd_cv.notify_all();
    fwd_thread.join();
    return 0;
  } catch (const wim::InputError& e) {
    // A bad config or registry (the message names file and field): exit 2, as for usage.
    std::cerr << "wim-collector: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "wim-collector: " << e.what() << "\n";
    return 1;
  }
}
