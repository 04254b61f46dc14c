#include "framework/experiment/markdown.h"

#include <algorithm>

namespace hamster {
namespace {

// UTF-8 characters: every byte but continuation bytes (10xxxxxx).
size_t display_width(const std::string& s) {
  return std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; });
}

std::string padded(const std::string& cell, size_t width, bool left) {
  const std::string fill(width - std::min(width, display_width(cell)), ' ');
  return left ? cell + fill : fill + cell;
}

}  // namespace

std::string markdown_table(const std::vector<std::string>& header,
                           const std::vector<std::vector<std::string>>& rows, size_t text_columns) {
  std::vector<size_t> width(header.size(), 3);  // "---" at least
  for (size_t c = 0; c < header.size(); ++c) {
    width[c] = std::max(width[c], display_width(header[c]));
    for (const auto& row : rows)
      if (c < row.size()) width[c] = std::max(width[c], display_width(row[c]));
  }
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string out = "|";
    for (size_t c = 0; c < header.size(); ++c)
      out += " " + padded(c < cells.size() ? cells[c] : "", width[c], c < text_columns) + " |";
    return out + "\n";
  };
  std::string out = line(header) + "|";
  for (size_t c = 0; c < header.size(); ++c)
    out +=
        (c < text_columns ? std::string(width[c] + 2, '-') : std::string(width[c] + 1, '-') + ":") +
        "|";
  out += "\n";
  for (const auto& row : rows) out += line(row);
  return out;
}

}  // namespace hamster
