#include "realnet/text_table.hpp"

#include <algorithm>

namespace swarmlab::realnet {
namespace {
// Display width of UTF-8 text: count code points, not bytes (names may be non-ASCII).
std::size_t width_of(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}
}  // namespace

std::string TextTable::render() const {
  std::vector<std::size_t> widths(columns_.size());
  for (std::size_t c = 0; c < columns_.size(); ++c) widths[c] = width_of(columns_[c].title);
  for (const auto& row : rows_) {
    for (std::size_t c = 0; c < row.size() && c < widths.size(); ++c)
      widths[c] = std::max(widths[c], width_of(row[c]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      const std::string cell = c < cells.size() ? cells[c] : "";
      const std::string pad(widths[c] - width_of(cell), ' ');
      if (c > 0) out += "  ";
      out += columns_[c].align == Align::Right ? pad + cell
                                               : (c + 1 == columns_.size() ? cell : cell + pad);
    }
    return out;
  };
  std::vector<std::string> titles;
  for (const auto& col : columns_) titles.push_back(col.title);
  std::string out = line(titles) + "\n";
  std::size_t total = 0;
  for (auto w : widths) total += w;
  out += std::string(total + 2 * (widths.size() - 1), '-');
  for (const auto& row : rows_) out += "\n" + line(row);
  return out;
}

}  // namespace swarmlab::realnet
