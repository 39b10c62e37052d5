// swarm-peer: a peer of a swarmlab swarm. With no arguments it opens the peer terminal of
// the original design; flags do the same things for scripts.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <random>

#include "realnet/asio_host.hpp"
#include "realnet/event_log.hpp"
#include "realnet/program_support.hpp"
#include "realnet/progress_text.hpp"
#include "realnet/terminal.hpp"
#include "realnet/text_table.hpp"
#include "swarmlab/overloaded.hpp"
#include "swarmlab/peer.hpp"
#include "swarmlab/units.hpp"

using namespace swarmlab;
using namespace swarmlab::realnet;

namespace {

std::string random_peer_id() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "peer-%06x", rd() & 0xFFFFFF);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  return_large_buffers_to_the_system();
  CLI::App app{"swarm-peer: publish and download files in a swarmlab swarm."};
  std::string tracker, listen = "0.0.0.0:0", download, output, events, log_level = "info", log_file,
                       id;
  std::string chunk_strategy = "rarest-first", peer_strategy = "lowest-rtt", chunk_size = "512KiB",
              max_upload_rate, max_download_rate, block_size = "512KiB";
  std::vector<std::string> publish;
  bool seed = false, force = false, no_terminal = false;
  unsigned delay_ms = 0, per_peer = 0, total = 0;
  unsigned max_upload_connections = swarmlab::PeerConfig{}.upload.max_connections;
  app.add_option("--tracker", tracker, "connect to the tracker at HOST:PORT");
  app.add_option("--listen", listen, "serve other peers on ADDR:PORT (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--publish", publish, "publish this file (repeatable)");
  app.add_option("--download", download, "download the file of this name ...");
  app.add_option("--output", output, "... to this path (a directory: into it, as NAME)");
  app.add_flag("--seed", seed, "stay and serve after the download finishes");
  app.add_flag("--force", force, "replace an existing destination file");
  app.add_flag("--no-terminal", no_terminal, "no interactive terminal; serve until SIGINT/SIGTERM");
  app.add_option("--events", events, "write metrics events to FILE (JSON Lines)");
  app.add_option("--id", id, "peer id shown to others (default: random)");
  app.add_option("--delay", delay_ms,
                 "delay every reply by this many milliseconds (like set_delay)");
  app.add_option("--chunk-strategy", chunk_strategy, "rarest-first, random or sequential")
      ->capture_default_str();
  app.add_option("--peer-strategy", peer_strategy, "lowest-rtt, fastest or random")
      ->capture_default_str();
  app.add_option("--chunk-size", chunk_size, "chunk size for files this peer publishes")
      ->capture_default_str();
  const swarmlab::DownloadConfig download_defaults;
  app.add_option("--inflight-per-peer", per_peer,
                 "most chunks' worth of block requests in flight per source (default " +
                     std::to_string(download_defaults.max_inflight_per_peer) +
                     "; fewer when the source's rate x RTT needs fewer)");
  unsigned min_per_peer = 4, chunks_per_downloader = 4;
  app.add_option("--min-inflight-per-peer", min_per_peer,
                 "fewest chunks' worth of block requests kept in flight per source (on a LAN "
                 "disk reads and hashing take as long as the wire: a few keep it busy)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  app.add_option("--chunks-per-downloader", chunks_per_downloader,
                 "chunks' worth of blocks read ahead for each downloader being served")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  app.add_option("--inflight-total", total,
                 "most chunks' worth of block requests in flight per download (default " +
                     std::to_string(download_defaults.max_inflight_total) + ")");
  app.add_option("--block-size", block_size,
                 "ask sources for blocks of this size; blocks of one chunk may come from "
                 "several sources (worth it on slow links; on a LAN a chunk takes milliseconds, "
                 "and each block costs the hosts a frame)")
      ->capture_default_str();
  app.add_option("--max-upload-rate", max_upload_rate,
                 "upload at most this fast, e.g. 8Mbps or 1MB/s (default: no limit); a little "
                 "under the uplink keeps this peer's own downloads quick");
  std::string upload_capacity;
  app.add_option("--upload-capacity", upload_capacity,
                 "this peer's uplink rate, e.g. 20Mbps, if known: sizes the upload slots (one "
                 "per 2 Mbit/s) and paces uploads to 95 % of it while downloading, so the "
                 "peer's own requests are not queued behind them");
  app.add_option("--max-download-rate", max_download_rate,
                 "download each file at most this fast, e.g. 20Mbps (default: no limit); the "
                 "requests are paced, so sources send no faster");
  app.add_option("--max-uploads", max_upload_connections,
                 "downloaders connected at once (a few of them are served at a time), 0 for no "
                 "limit; more are told to come back later")
      ->capture_default_str()
      ->check(CLI::Range(0u, 100000u));
  unsigned retries = swarmlab::PeerConfig{}.download_retries;
  std::string retry_wait = "10s";
  app.add_option("--retries", retries,
                 "a download that loses its last owner (or the tracker) starts again by itself "
                 "this many times, resuming; 0: fail at once")
      ->capture_default_str()
      ->check(CLI::Range(0u, 1000000u));
  app.add_option("--retry-wait", retry_wait,
                 "wait this long before the first retry (e.g. 10s, 500ms); it doubles with each "
                 "retry, up to --retry-wait-max")
      ->capture_default_str();
  std::string retry_wait_max = "5min";
  app.add_option("--retry-wait-max", retry_wait_max,
                 "longest wait between retries (at most 5 minutes; equal to --retry-wait: no "
                 "doubling)")
      ->capture_default_str();
  std::uint64_t epoch_ns = 0;
  app.add_option("--epoch", epoch_ns,
                 "CLOCK_MONOTONIC nanoseconds at which event times read 0 (default: at start)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  app.add_option("--log-file", log_file, "also log to FILE, with timestamps");
  app.set_version_flag("--version", "swarm-peer " SWARMLAB_VERSION);
  // Usage errors exit 2, as every other refusal of this program does.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  auto usage_error = [](const std::string& msg) {
    std::cerr << "swarm-peer: " << msg << "\n";
    return 2;
  };
  std::string error;
  if (!setup_logging(log_level, log_file, error)) return usage_error(error);
  if (download.empty() != output.empty())
    return usage_error("--download NAME and --output PATH go together");
  const bool script = !download.empty() || no_terminal;
  if (script && tracker.empty())
    return usage_error("--download and --no-terminal need --tracker HOST:PORT");

  PeerConfig config;
  config.peer_id = id.empty() ? random_peer_id() : id;
  // Every peer needs its own random choices: with one shared seed, peers that start together
  // pick the same chunks in the same order and have nothing to give each other.
  config.seed = (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  config.upload.reply_delay = std::chrono::milliseconds(delay_ms);
  auto cs = parse_chunk_strategy(chunk_strategy);
  if (!cs) return usage_error(cs.error().message);
  auto ps = parse_peer_strategy(peer_strategy);
  if (!ps) return usage_error(ps.error().message);
  auto size = parse_size(chunk_size);
  if (!size) return usage_error("--chunk-size: " + size.error().message);
  if (*size < kMinChunkSize || *size > kMaxChunkSize)
    return usage_error("--chunk-size must be between 4 KiB and 16 MiB");
  config.chunk_size = static_cast<std::uint32_t>(*size);
  config.download.chunk_strategy = *cs;
  config.download.peer_strategy = *ps;
  if (per_peer > 0) config.download.max_inflight_per_peer = per_peer;
  if (total > 0) config.download.max_inflight_total = total;
  config.upload.max_connections = max_upload_connections;
  auto block = parse_size(block_size);
  if (!block) return usage_error("--block-size: " + block.error().message);
  if (*block < 4096 || *block > kMaxChunkSize)
    return usage_error("--block-size must be between 4 KiB and 16 MiB");
  config.download.block_size = static_cast<std::uint32_t>(*block);
  if (!max_upload_rate.empty()) {
    auto rate = parse_rate(max_upload_rate);
    if (!rate) return usage_error("--max-upload-rate: " + rate.error().message);
    config.upload.rate_limit_bps = *rate;
  }
  if (!upload_capacity.empty()) {
    auto rate = parse_rate(upload_capacity);
    if (!rate) return usage_error("--upload-capacity: " + rate.error().message);
    config.upload.upload_bps = *rate;
    config.upload.downloading_rate_limit_bps = *rate / 100 * 95;
  }
  if (!max_download_rate.empty()) {
    auto rate = parse_rate(max_download_rate);
    if (!rate) return usage_error("--max-download-rate: " + rate.error().message);
    config.download.rate_limit_bps = *rate;
  }
  config.download_retries = retries;
  auto wait = parse_duration(retry_wait);
  if (!wait) return usage_error("--retry-wait: " + wait.error().message);
  auto wait_max = parse_duration(retry_wait_max);
  if (!wait_max) return usage_error("--retry-wait-max: " + wait_max.error().message);
  if (*wait_max <= Duration::zero() || *wait_max > config.retry_wait_max)
    return usage_error("--retry-wait-max must be above 0 and at most 5 minutes");
  if (*wait <= Duration::zero() || *wait > *wait_max)
    return usage_error(
        "--retry-wait must be above 0 and at most --retry-wait-max (5 minutes unless given)");
  config.retry_wait = *wait;
  config.retry_wait_max = *wait_max;
  // "Sent" is "in the kernel's buffer" here, and disk reads and hashing take as long as the
  // wire on a LAN: by default a few chunks are under way per downloader, on both sides.
  config.upload.chunks_per_downloader = chunks_per_downloader;
  config.download.min_inflight_per_peer = min_per_peer;
  if (!tracker.empty()) {
    auto t = Endpoint::parse(tracker);
    if (!t) return usage_error("--tracker: " + t.error().message);
    config.tracker = *t;
  }
  auto listen_at = Endpoint::parse(listen);
  if (!listen_at) return usage_error("--listen: " + listen_at.error().message);
  std::unique_ptr<EventLog> log;
  if (!events.empty()) {
    auto l = EventLog::open(events);
    if (!l) return usage_error(l.error().message);
    log = std::move(*l);
  }

  // What we print goes through a thread of its own: a script that stops reading our
  // stdout must not stop us serving. Progress lines are skipped while output backs up, and
  // at exit what is left gets a few seconds to go out.
  LineWriter stdout_lines(STDOUT_FILENO,
                          {.max_pending = 64 << 10, .drain_timeout = std::chrono::seconds(5)});
  boost::asio::io_context io;
  auto pool = BufferPool::create();
  auto store = std::make_shared<FileStore>(pool, FileStoreOptions{force});
  Peer peer(config);
  AsioHost host(io, peer, store, pool);
  if (!apply_epoch(epoch_ns, host, error)) return usage_error(error);
  auto bound = host.listen(*listen_at);
  if (!bound) {
    std::cerr << "swarm-peer: " << bound.error().message << "\n";
    return 1;
  }
  // Advertise the port we got; an unspecified host lets the tracker fill in our address.
  Endpoint advertised = *bound;
  if (auto ip = IpAddress::parse(advertised.host); ip && ip->is_unspecified()) advertised.host = "";
  peer.set_listen(advertised);

  int exit_code = 0;
  std::unique_ptr<Terminal> terminal;
  const bool tty_out = ::isatty(STDOUT_FILENO) != 0;
  bool bar_shown = false;  // a script's live bar on a terminal, redrawn in place
  // At a prompt the terminal takes Ctrl-C (it clears the line); elsewhere it stops the peer.
  boost::asio::signal_set signals(io, SIGTERM);
  if (script || !Terminal::would_prompt()) signals.add(SIGINT);
  boost::asio::steady_timer grace(io);
  bool stopping = false;
  bool download_done = false;  // the --download file is complete (then --seed kept us)
  auto shutdown = [&](int code) {
    if (stopping) return;
    stopping = true;
    exit_code = code;
    signals.cancel();
    if (terminal) terminal->stop();
    host.command([&](Time now) { peer.shutdown(now); });
    // End once the last writes (closing the tracker session) have gone out; a connection
    // whose other side stopped reading gets 200 ms.
    host.stop([&] { io.stop(); });
    grace.expires_after(std::chrono::milliseconds(200));
    grace.async_wait([&](boost::system::error_code) { io.stop(); });
  };
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    if (bar_shown) stdout_lines.write("");  // keep the last bar, end its line
    bar_shown = false;
    spdlog::info("{}: stopping; partial downloads are kept and resume next time",
                 sig == SIGINT ? "SIGINT" : "SIGTERM");
    // A seeding peer whose download finished did its job: stopping it is no failure.
    shutdown(download.empty() || download_done ? 0 : 1);
  });
  auto say = [&](const std::string& text) {
    if (terminal) {
      terminal->print(text);
      return;
    }
    if (bar_shown) stdout_lines.write("\r\033[K", false, /*end_line=*/false);
    bar_shown = false;
    stdout_lines.write(text);
  };
  std::vector<std::string> pending_publish = publish;
  bool download_started = false;

  // A script (commands piped in) exits 1 if any of its commands failed, as a shell's would
  // with set -e in mind: the output says which.
  bool a_command_failed = false;
  // Each returns whether the request went out (its answer comes later as a notice).
  auto do_publish = [&](const std::string& path) {
    const auto name = std::filesystem::path(path).filename().string();
    Status st;
    host.command(
        [&](Time now) { st = peer.publish(now, std::filesystem::absolute(path).string(), name); });
    if (!st.ok()) {
      say("Cannot publish " + path + ": " + st.error().describe());
      a_command_failed = true;
      if (script) shutdown(1);
    }
    return st.ok();
  };
  auto do_download = [&](const std::string& name, const std::string& dest) {
    // A directory means "into it", under the file's own name (as aria2c -d does).
    std::error_code ec;
    auto path = std::filesystem::absolute(dest);
    if (std::filesystem::is_directory(path, ec)) path /= std::filesystem::path(name).filename();
    Status st;
    host.command([&](Time now) { st = peer.download(now, name, path.string()); });
    if (!st.ok()) {
      say("Cannot download " + name + ": " + st.error().describe());
      a_command_failed = true;
      if (!download.empty()) shutdown(1);
    }
    return st.ok();
  };
  // The prompt's live status: every running download, named (set_status).
  std::map<std::string, DownloadProgress> bars;
  auto show_bars = [&](const std::string& file, const DownloadProgress* p) {
    if (!terminal) return;
    if (p != nullptr) {
      bars[file] = *p;
    } else {
      bars.erase(file);
    }
    std::vector<DownloadProgress> all;
    for (const auto& [name, b] : bars) all.push_back(b);
    // Room left on the line for the prompt and some typing.
    const auto width = static_cast<std::size_t>(std::max(20, Terminal::width() - 24));
    terminal->set_status(prompt_status(all, width));
  };
  // A script waiting on a command's answer goes on once it has come (Terminal::await_answer).
  auto answered = [&](const std::string& what) {
    if (terminal) terminal->answered(what);
  };

  host.on_record([&](const Event& e) {
    if (log) log->write(e);
    // Only built when shown: arguments are evaluated before spdlog looks at the level.
    if (spdlog::should_log(spdlog::level::debug)) spdlog::debug("{}", e.to_json().dump());
    if (e.type == "tracker_lost")
      spdlog::warn("lost the tracker ({}){}", e.fields.value("reason", ""),
                   e.fields.value("reconnecting", true) ? "; reconnecting" : "");
    if (e.type == "tracker_regained") spdlog::info("back with the tracker");
    if (e.type == "tracker_unreachable")
      spdlog::warn("cannot reach the tracker at {} ({}); trying again in {:.0f} s",
                   e.fields.value("tracker", ""), e.fields.value("reason", ""),
                   e.fields.value("retry_in_s", 0.0));
    if (e.type == "peer_banned")
      spdlog::warn("banned {} for sending corrupt chunks", e.fields.value("peer", ""));
  });
  host.on_notice([&](const Notice& notice) {
    std::visit(
        Overloaded{
            [&](const TrackerConnected&) {
              say(describe(notice));
              answered("connect");
              for (const auto& p : pending_publish) do_publish(p);
              pending_publish.clear();
              if (!download.empty() && !download_started) {
                download_started = true;
                do_download(download, output);
              }
            },
            [&](const TrackerFailed&) {
              say("Tracker: " + describe(notice));
              a_command_failed = true;
              answered("connect");
              if (script) shutdown(1);
            },
            [&](const PublishDone& x) {
              say(describe(notice));
              answered("publish " + x.file);
            },
            [&](const PublishFailed& x) {
              // "Cannot publish PATH: why", said once.
              a_command_failed = true;
              auto text = describe(notice);
              if (!text.empty()) text[0] = static_cast<char>(std::toupper(text[0]));
              say(text);
              answered("publish " + x.file);
              if (script) shutdown(1);
            },
            [&](const FilesListed& x) {
              TextTable table({{"NAME"},
                               {"SIZE", TextTable::Align::Right},
                               {"CHUNKS", TextTable::Align::Right},
                               {"OWNERS", TextTable::Align::Right},
                               {"AVAILABLE", TextTable::Align::Right}});
              for (const auto& f : x.files) {
                table.add_row({f.name, format_size(f.size), std::to_string(f.chunks),
                               std::to_string(f.owners),
                               std::to_string(static_cast<int>(f.availability * 100 + 0.5)) + "%"});
              }
              say((table.empty() ? std::string("No files are published.") : table.render()) +
                  (x.omitted > 0
                       ? "\n(" + std::to_string(x.omitted) + " more files did not fit in one reply)"
                       : ""));
              answered("list_files");
            },
            [&](const FilesListFailed&) {
              say("list_files failed: " + describe(notice));
              a_command_failed = true;
              answered("list_files");
            },
            [&](const DownloadProgress& p) {
              if (terminal && terminal->interactive() && tty_out) {
                show_bars(p.file, &p);
              } else if (!terminal && tty_out) {
                stdout_lines.write("\r" + p.file + " " + progress_bar(p) + "\033[K",
                                   /*skippable=*/true, /*end_line=*/false);
                bar_shown = true;
              } else if (!terminal || !terminal->interactive()) {
                stdout_lines.write(progress_line(p), /*skippable=*/true);
              } else {
                say(progress_line(p));
              }
            },
            [&](const DownloadCompleted& x) {
              show_bars(x.file, nullptr);
              say(describe(notice));
              answered("download " + x.file);
              if (x.file == download) download_done = true;
              if (x.file == download && !seed) shutdown(0);
            },
            [&](const DownloadFailed& x) {
              show_bars(x.file, nullptr);
              say("Download of " + x.file + " failed: " + describe(notice));
              a_command_failed = true;
              answered("download " + x.file);
              if (x.file == download) shutdown(1);
            },
            [&](const DownloadRetrying& x) {
              show_bars(x.file, nullptr);
              say("Download of " + x.file + " failed: " + describe(notice));
            },
        },
        notice);
  });

  if (!script) {
    terminal = std::make_unique<Terminal>(io, "peer> ", stdout_lines);
    auto& t = *terminal;
    t.keep_history(history_path("peer"));
    t.take_console_log();
    t.add("connect", "<ip> <port>", "connect to the tracker", 2, 2, [&](const Terminal::Args& a) {
      auto at = Endpoint::parse((a[0].find(':') != std::string::npos ? "[" + a[0] + "]" : a[0]) +
                                ":" + a[1]);
      if (!at) return t.print(at.error().message);
      Status st;
      host.command([&](Time now) { st = peer.connect_tracker(now, *at); });
      if (!st.ok()) {
        a_command_failed = true;
        return t.print(st.error().describe());
      }
      t.await_answer("connect", std::chrono::seconds(30));
    });
    // One path, so words split at spaces are joined back: `publish my notes.txt` works, and
    // "quotes" keep runs of spaces.
    t.add("publish", "<path>", "share a local file (named by its file name)", 1, 64,
          [&](const Terminal::Args& a) {
            std::string path;
            for (const auto& w : a) path += (path.empty() ? "" : " ") + w;
            if (do_publish(path))
              t.await_answer("publish " + std::filesystem::path(path).filename().string());
          });
    t.add("list_files", "", "show the files the tracker lists", 0, 0, [&](const Terminal::Args&) {
      Status st;
      host.command([&](Time now) { st = peer.list_files(now); });
      if (!st.ok()) {
        a_command_failed = true;
        return t.print(st.error().describe());
      }
      t.await_answer("list_files", std::chrono::seconds(30));
    });
    t.add("download", "<name> <dest>", "download a file to a local path (a directory: into it)", 2,
          2, [&](const Terminal::Args& a) {
            if (do_download(a[0], a[1])) t.await_answer("download " + a[0]);
          });
    // What this peer holds of `name` and the file's size (0, 0 if nothing).
    auto held_bytes = [&](const std::string& name) -> std::pair<std::uint64_t, std::uint64_t> {
      for (const auto& f : peer.held_files()) {
        if (f.info.name != name) continue;
        std::uint64_t bytes = 0;
        for (const auto i : f.have.indexes()) bytes += f.info.chunk_length(i);
        return {bytes, f.info.size};
      }
      return {0, 0};
    };
    // One download at a time, as any client does: pause keeps serving what it holds, cancel
    // stops that too; neither deletes anything, and resume (or download) continues it.
    // The commands outlive this block: lambdas defined in it are captured by value.
    auto stop = [&, held_bytes](const std::string& name, bool withdraw) {
      DownloadStatus was;
      for (const auto& d : peer.downloads()) {
        if (d.name == name) was = d;
      }
      // A download resumed a moment ago has not counted what it kept yet.
      if (was.bytes_have == 0) std::tie(was.bytes_have, was.bytes_total) = held_bytes(name);
      Status st;
      host.command([&](Time now) { st = peer.stop_download(now, name, withdraw); });
      if (!st.ok()) {
        a_command_failed = true;
        return t.print(st.error().describe());
      }
      show_bars(name, nullptr);
      answered("download " + name);
      const std::string kept = was.bytes_have == 0
                                   ? std::string("nothing was verified yet")
                                   : format_size(was.bytes_have) + " of " +
                                         format_size(was.bytes_total) + " verified are kept in " +
                                         was.dest + ".part";
      t.print((withdraw ? "Cancelled " : "Paused ") + name + ": " + kept + "; " +
              (withdraw
                   ? "no longer offered to others. Delete it, or resume " + name + " to continue."
                   : "still offered to others. resume " + name + " continues."));
    };
    t.add("pause", "<name>", "stop a download where it is (what it holds is still served)", 1, 1,
          [&, stop](const Terminal::Args& a) { stop(a[0], false); });
    t.add("cancel", "<name>", "stop a download and stop serving it (the partial file stays)", 1, 1,
          [&, stop](const Terminal::Args& a) { stop(a[0], true); });
    t.add("resume", "<name>", "continue a paused, cancelled or failed download", 1, 1,
          [&](const Terminal::Args& a) {
            std::optional<std::string> dest;
            for (const auto& d : peer.downloads()) {
              if (d.name == a[0] && d.phase != Download::Phase::Completed) dest = d.dest;
            }
            if (!dest) return t.print("No paused download of " + a[0] + " to resume.");
            if (do_download(a[0], *dest)) t.await_answer("download " + a[0]);
          });
    t.add("peers", "", "show the sources of each download, with their rates and round trips", 0, 0,
          [&](const Terminal::Args&) {
            std::string out;
            for (const auto& d : peer.downloads()) {
              if (d.connected.empty()) continue;
              TextTable table({{d.name + " FROM"},
                               {"ADDRESS"},
                               {"RATE", TextTable::Align::Right},
                               {"RECEIVED", TextTable::Align::Right},
                               {"RTT", TextTable::Align::Right},
                               {"ASKED", TextTable::Align::Right},
                               {"MAY ASK"}});
              for (const auto& s : d.connected) {
                table.add_row({s.id, s.address.to_string(), format_rate(s.rate_bps),
                               format_size(s.bytes), s.rtt ? format_duration(*s.rtt) : "-",
                               std::to_string(s.in_flight), s.unchoked ? "yes" : "no (choked)"});
              }
              out += (out.empty() ? "" : "\n") + table.render();
            }
            const auto serving = peer.uploading();
            out += (out.empty() ? "" : "\n") + std::string("Serving ") +
                   std::to_string(serving.connections) + " downloader" +
                   (serving.connections == 1 ? "" : "s") + ", " + std::to_string(serving.unchoked) +
                   " of them now.";
            t.print(out);
          });
    t.add("set_delay", "<ms>", "delay this peer's replies (to try RTT-based choice)", 1, 1,
          [&](const Terminal::Args& a) {
            char* end = nullptr;
            const long ms = std::strtol(a[0].c_str(), &end, 10);
            if (end == a[0].c_str() || *end != '\0' || ms < 0 || ms > 600000)
              return t.print("Usage: set_delay <ms> (0 to 600000)");
            host.command([&](Time now) { peer.set_delay(now, std::chrono::milliseconds(ms)); });
            t.print("Replies are now delayed by " + std::to_string(ms) + " ms.");
          });
    t.add("status", "", "show running downloads and what this peer offers", 0, 0,
          [&](const Terminal::Args&) {
            std::string out = "Tracker: " + std::string(to_string(peer.tracker_state())) +
                              "; listening on " + bound->to_string() + " as " + config.peer_id;
            // Counts and a strip a few dozen columns wide, never one range per gap: a
            // half-done download of a big file has hundreds of them.
            TextTable table({{"DOWNLOAD"},
                             {"STATE"},
                             {"CHUNKS", TextTable::Align::Right},
                             {"DONE", TextTable::Align::Right},
                             {"RATE", TextTable::Align::Right},
                             {"SOURCES", TextTable::Align::Right},
                             {"DESTINATION"}});
            auto pct = [](std::uint64_t part, std::uint64_t whole) {
              return std::to_string(whole == 0 ? 0 : part * 100 / whole) + "%";
            };
            for (const auto& d : peer.downloads()) {
              table.add_row({d.name, std::string(to_string(d.phase)),
                             std::to_string(d.chunks_have) + "/" + std::to_string(d.chunks_total),
                             pct(d.bytes_have, d.bytes_total), format_rate(d.rate_bps),
                             std::to_string(d.sources), d.dest});
            }
            if (!table.empty()) out += "\n" + table.render();
            TextTable files({{"OFFERED"},
                             {"SIZE", TextTable::Align::Right},
                             {"HELD", TextTable::Align::Right},
                             {"CHUNKS (# held, + some, . none)"}});
            for (const auto& f : peer.held_files()) {
              files.add_row({f.info.name, format_size(f.info.size),
                             std::to_string(f.have.count()) + "/" + std::to_string(f.have.size()),
                             chunk_strip(f.have, 32)});
            }
            if (!files.empty()) out += "\n" + files.render();
            t.print(out);
          });
    // Leaving mid-download loses nothing, and says so.
    auto leave = [&, held_bytes] {
      for (auto d : peer.downloads()) {
        if (d.phase == Download::Phase::Completed || d.phase == Download::Phase::Failed) continue;
        if (d.bytes_have == 0) std::tie(d.bytes_have, d.bytes_total) = held_bytes(d.name);
        if (d.bytes_have == 0) {
          t.print("Download of " + d.name + " stopped before its first chunk.");
          continue;
        }
        t.print("Download of " + d.name + " stopped at " + format_size(d.bytes_have) + " of " +
                format_size(d.bytes_total) + "; the partial file " + d.dest +
                ".part is kept, and the same download command resumes it.");
      }
      shutdown(a_command_failed && !t.interactive() ? 1 : 0);
    };
    t.add("exit", "", "leave the swarm and quit", 0, 0,
          [&, leave](const Terminal::Args&) { leave(); });
    t.on_end = leave;
    t.start();
    t.print("swarm-peer " + config.peer_id + " serving on " + bound->to_string() +
            (tracker.empty()
                 ? "; type 'connect <ip> <port>' to join a tracker, help or ? for the commands."
                 : "."));
  }
  host.start();
  io.run();
  return exit_code;
}
