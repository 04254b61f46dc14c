#pragma once
// Markdown tables padded to their columns' widths, so they read as tables in a terminal as
// well as rendered: text columns left-aligned, numbers right-aligned.
#include <string>
#include <vector>

namespace hamster {

// The first `text_columns` columns are text (left-aligned), the rest numbers (right).
// Widths count characters, not bytes ("±" is one).
std::string markdown_table(const std::vector<std::string>& header,
                           const std::vector<std::vector<std::string>>& rows, size_t text_columns);

}  // namespace hamster
