#pragma once
// Aligned plain-text tables for list_files, list_peers and list_chunkinfo.
#include <string>
#include <vector>

namespace swarmlab::realnet {

class TextTable {
 public:
  enum class Align { Left, Right };
  struct Column {
    std::string title;
    Align align = Align::Left;
  };
  explicit TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}
  void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  bool empty() const { return rows_.empty(); }
  /// Header, a rule, then the rows; columns two spaces apart. No trailing newline.
  std::string render() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace swarmlab::realnet
