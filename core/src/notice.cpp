#include "swarmlab/notice.hpp"

#include <cstdio>

#include "swarmlab/overloaded.hpp"
#include "swarmlab/units.hpp"

namespace swarmlab {

std::string describe(const Notice& n) {
  return std::visit(
      Overloaded{
          [](const TrackerConnected& x) {
            return "Connected to the tracker at " + x.tracker.to_string() + ".";
          },
          [](const TrackerFailed& x) { return x.error.describe(); },
          [](const PublishDone& x) {
            return "Published " + x.file + " (" + format_size(x.size) + ", " +
                   std::to_string(x.chunks) + " chunks).";
          },
          [](const PublishFailed& x) { return x.error.describe(); },
          [](const FilesListed& x) {
            return std::to_string(x.files.size()) + " files listed" +
                   (x.omitted > 0 ? ", " + std::to_string(x.omitted) + " more left out" : "") + ".";
          },
          [](const FilesListFailed& x) { return x.error.describe(); },
          [](const DownloadProgress& x) {
            return x.file + ": " + std::to_string(x.chunks) + " of " +
                   std::to_string(x.total_chunks) + " chunks.";
          },
          [](const DownloadCompleted& x) {
            // The sentence of the original design, then what a user compares runs by.
            std::string text = "File " + x.file + " successfully downloaded to " + x.dest + ".";
            const double s = to_seconds(x.duration);
            if (x.bytes == 0 || s <= 0) return text;
            char rate[32];
            // The rate of what this attempt fetched, not of chunks kept from before.
            std::snprintf(rate, sizeof rate, "%.1f MiB/s",
                          static_cast<double>(x.fetched) / s / (1024.0 * 1024.0));
            text += " " + format_size(x.bytes) + " in " + format_duration(x.duration) + " (" + rate;
            if (x.resumed_chunks > 0) {
              text += "; " + std::to_string(x.resumed_chunks) + " chunks kept from before";
            }
            return text + ").";
          },
          [](const DownloadFailed& x) { return x.error.describe(); },
          [](const DownloadRetrying& x) {
            return x.error.describe() + "; trying again in " + format_duration(x.wait) +
                   " (retry " + std::to_string(x.retry) + " of " + std::to_string(x.retries) + ")";
          },
      },
      n);
}

std::string_view notice_file(const Notice& n) {
  return std::visit(
      [](const auto& x) -> std::string_view {
        if constexpr (requires { x.file; }) {
          return x.file;
        } else {
          return {};
        }
      },
      n);
}

}  // namespace swarmlab
