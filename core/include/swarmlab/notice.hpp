#pragma once
// What a peer tells its user (a terminal, a script, the simulation's runner): command results,
// download progress, failures. Typed, so that a driver acting on one cannot misspell it; the
// events log (Record) stays JSON. Each notice reads as a sentence through describe().
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "swarmlab/endpoint.hpp"
#include "swarmlab/error.hpp"
#include "swarmlab/messages.hpp"
#include "swarmlab/time.hpp"

namespace swarmlab {

struct TrackerConnected {
  Endpoint tracker;
  Endpoint advertised;  // this peer's address as the tracker gives it to others
};
/// The tracker refused this peer, or could not be reached before it ever answered.
struct TrackerFailed {
  Error error;
};
struct PublishDone {
  std::string file;
  std::uint64_t size = 0;
  std::uint32_t chunks = 0;
};
struct PublishFailed {
  std::string file;
  Error error;  // its message is the whole sentence ("cannot publish PATH: ...")
};
struct FilesListed {
  std::vector<FileSummary> files;
  std::uint32_t omitted = 0;  // files that did not fit in one reply
};
struct FilesListFailed {
  Error error;
};
struct DownloadProgress {
  std::string file;
  std::uint64_t bytes = 0, total_bytes = 0;
  std::uint32_t chunks = 0, total_chunks = 0;
  double rate_bps = 0;  // recent goodput
  std::uint32_t sources = 0;
};
struct DownloadCompleted {
  std::string file;
  std::string dest;
  Duration duration{};
  std::uint64_t bytes = 0;
  std::uint32_t resumed_chunks = 0;  // verified by an earlier attempt
  std::uint64_t fetched = 0;         // bytes this attempt fetched (the rest were kept)
};
struct DownloadFailed {
  std::string file;
  std::string dest;
  Error error;
  std::uint32_t missing_chunks = 0;
};

/// A download failed for want of owners or of the tracker and starts again, by itself, after
/// `wait`; what it verified is kept. The last failure is a DownloadFailed.
struct DownloadRetrying {
  std::string file;
  std::string dest;
  Error error;
  std::uint32_t retry = 0;  // 1 for the first retry
  std::uint32_t retries = 0;
  Duration wait{};
};

using Notice = std::variant<TrackerConnected, TrackerFailed, PublishDone, PublishFailed,
                            FilesListed, FilesListFailed, DownloadProgress, DownloadCompleted,
                            DownloadFailed, DownloadRetrying>;

/// The notice as one sentence for a person ("Published a.bin (8.0 MiB, 16 chunks).").
std::string describe(const Notice& n);
/// The file a notice is about; empty for notices about the tracker or the file list.
std::string_view notice_file(const Notice& n);

}  // namespace swarmlab
