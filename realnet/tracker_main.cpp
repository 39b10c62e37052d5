// swarm-tracker: the tracker of a swarmlab swarm. With no arguments it opens the tracker
// terminal of the original design; with --listen it starts at once.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <random>

#include "realnet/asio_host.hpp"
#include "realnet/event_log.hpp"
#include "realnet/program_support.hpp"
#include "realnet/terminal.hpp"
#include "realnet/text_table.hpp"
#include "swarmlab/tracker.hpp"
#include "swarmlab/units.hpp"

using namespace swarmlab;
using namespace swarmlab::realnet;

int main(int argc, char** argv) {
  return_large_buffers_to_the_system();
  CLI::App app{
      "swarm-tracker: keeps track of the peers of a swarmlab swarm and of who holds which chunk."};
  std::string listen, events, log_level = "info", log_file;
  std::vector<std::string> allow;
  bool no_terminal = false;
  app.add_option("--listen", listen,
                 "start at once, listening on ADDR:PORT (e.g. 0.0.0.0:7000, [::]:7000)");
  app.add_option("--allow", allow,
                 "admit only peers from these address ranges (CIDR, comma-separated or repeated)")
      ->delimiter(',');
  app.add_flag("--no-terminal", no_terminal,
               "no interactive terminal (service use); stop with SIGINT/SIGTERM");
  app.add_option("--events", events, "write metrics events to FILE (JSON Lines)");
  std::uint64_t epoch_ns = 0;
  app.add_option("--epoch", epoch_ns,
                 "CLOCK_MONOTONIC nanoseconds at which event times read 0 (default: at start)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  app.add_option("--log-file", log_file, "also log to FILE, with timestamps");
  app.set_version_flag("--version", "swarm-tracker " SWARMLAB_VERSION);
  // Usage errors exit 2, as every other refusal of this program does.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  std::string error;
  if (!setup_logging(log_level, log_file, error)) {
    std::cerr << "swarm-tracker: " << error << "\n";
    return 2;
  }
  TrackerConfig config;
  config.seed = std::random_device{}();
  for (const auto& a : allow) {
    auto cidr = Cidr::parse(a);
    if (!cidr) {
      std::cerr << "swarm-tracker: --allow: " << cidr.error().message << "\n";
      return 2;
    }
    config.allow.push_back(*cidr);
  }
  std::unique_ptr<EventLog> log;
  if (!events.empty()) {
    auto l = EventLog::open(events);
    if (!l) {
      std::cerr << "swarm-tracker: " << l.error().message << "\n";
      return 2;
    }
    log = std::move(*l);
  }
  if (no_terminal && listen.empty()) {
    std::cerr << "swarm-tracker: --no-terminal needs --listen ADDR:PORT\n";
    return 2;
  }

  // Printing never holds up the network thread: see LineWriter.
  LineWriter stdout_lines(STDOUT_FILENO, {.drain_timeout = std::chrono::seconds(5)});
  boost::asio::io_context io;
  Tracker tracker(config);
  AsioHost host(io, tracker, nullptr, BufferPool::create());
  if (!apply_epoch(epoch_ns, host, error)) {
    std::cerr << "swarm-tracker: " << error << "\n";
    return 2;
  }
  host.on_record([&](const Event& e) {
    if (log) log->write(e);
    if (e.type == "peer_joined")
      spdlog::info("peer {} joined from {}", e.fields.value("peer", ""),
                   e.fields.value("address", ""));
    if (e.type == "peer_left")
      spdlog::info("peer {} left ({})", e.fields.value("peer", ""), e.fields.value("reason", ""));
    if (e.type == "peer_refused")
      spdlog::warn("refused a peer from {}: not in the allow-list", e.fields.value("address", ""));
    if (e.type == "file_published")
      spdlog::info("file {} published by {}", e.fields.value("file", ""),
                   e.fields.value("peer", ""));
    if (e.type == "file_delisted")
      spdlog::info("file {} delisted: no online peer holds it", e.fields.value("file", ""));
  });

  std::unique_ptr<Terminal> terminal;
  auto start = [&](const Endpoint& at) -> bool {
    if (host.listening()) {
      spdlog::error("{}",
                    Error{ErrorCode::ServerRunning, "the tracker is already listening"}.describe());
      return false;
    }
    auto bound = host.listen(at);
    if (!bound) {
      spdlog::error("{}", bound.error().message);
      return false;
    }
    host.start();
    std::string said = "Tracker listening on " + bound->to_string();
    // Who may join, said where the operator looks: a forgotten range shows up at once.
    if (!allow.empty()) {
      said += "; admitting only peers from ";
      for (std::size_t i = 0; i < allow.size(); ++i) said += (i > 0 ? ", " : "") + allow[i];
    }
    if (terminal) {
      terminal->print(said);
    } else {
      stdout_lines.write(said);
    }
    return true;
  };

  // At a prompt the terminal takes Ctrl-C (it clears the line); elsewhere it stops the tracker.
  boost::asio::signal_set signals(io, SIGTERM);
  if (no_terminal || !Terminal::would_prompt()) signals.add(SIGINT);
  auto shutdown = [&] {
    signals.cancel();
    if (terminal) terminal->stop();
    host.stop();
    io.stop();
  };
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec) shutdown();
  });

  if (!listen.empty()) {
    auto at = Endpoint::parse(listen);
    if (!at) {
      std::cerr << "swarm-tracker: --listen: " << at.error().message << "\n";
      return 2;
    }
    if (!start(*at)) return 1;
  }

  if (!no_terminal) {
    terminal = std::make_unique<Terminal>(io, "tracker> ", stdout_lines);
    auto& t = *terminal;
    t.keep_history(history_path("tracker"));
    t.take_console_log();
    t.add("start", "<ip> <port>", "start listening for peers", 2, 2, [&](const Terminal::Args& a) {
      auto at = Endpoint::parse((a[0].find(':') != std::string::npos ? "[" + a[0] + "]" : a[0]) +
                                ":" + a[1]);
      if (!at) return t.print(at.error().message);
      start(*at);
    });
    t.add("list_peers", "", "show the peers that are online", 0, 0, [&](const Terminal::Args&) {
      TextTable table({{"PEER"},
                       {"ADDRESS"},
                       {"CONNECTED FROM"},
                       {"FILES", TextTable::Align::Right},
                       {"CHUNKS", TextTable::Align::Right},
                       {"ONLINE FOR", TextTable::Align::Right}});
      for (const auto& p : tracker.peers()) {
        table.add_row({p.peer_id, p.address.to_string(), p.remote.to_string(),
                       std::to_string(p.files), std::to_string(p.chunks),
                       format_duration(host.now() - p.since)});
      }
      t.print(table.empty() ? "No peers are online." : table.render());
    });
    t.add("list_files", "", "show the published files", 0, 0, [&](const Terminal::Args&) {
      TextTable table({{"NAME"},
                       {"SIZE", TextTable::Align::Right},
                       {"CHUNKS", TextTable::Align::Right},
                       {"OWNERS", TextTable::Align::Right},
                       {"AVAILABLE", TextTable::Align::Right}});
      for (const auto& f : tracker.files()) {
        table.add_row({f.name, format_size(f.size), std::to_string(f.chunks),
                       std::to_string(f.owners),
                       std::to_string(static_cast<int>(f.availability * 100 + 0.5)) + "%"});
      }
      t.print(table.empty() ? "No files are published." : table.render());
    });
    t.add(
        "list_chunkinfo", "", "show which peer holds which chunks", 0, 0,
        [&](const Terminal::Args&) {
          TextTable table(
              {{"FILE"}, {"PEER"}, {"ADDRESS"}, {"HELD", TextTable::Align::Right}, {"CHUNKS"}});
          for (const auto& c : tracker.chunk_info()) {
            table.add_row({c.file, c.peer_id, c.address.to_string(),
                           std::to_string(c.chunks.count()) + "/" + std::to_string(c.chunks.size()),
                           c.chunks.to_ranges()});
          }
          t.print(table.empty() ? "No chunks are registered." : table.render());
        });
    t.add("exit", "", "stop the tracker and quit", 0, 0,
          [&](const Terminal::Args&) { shutdown(); });
    t.on_end = [&] {
      // A script that ends leaves a started tracker serving; Ctrl-D at a terminal quits.
      if (!t.interactive() && host.listening()) return;
      shutdown();
    };
    t.start();
    if (listen.empty())
      t.print("swarm-tracker: type 'start <ip> <port>' to begin, help or ? for the commands.");
  }
  io.run();
  return 0;
}
