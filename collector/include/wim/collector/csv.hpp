// SPDX-License-Identifier: Apache-2.0
// CSV cells for the files people open in a spreadsheet (export-closed, /api/stats.csv):
// RFC 4180 quoting, and text guarded against formula injection (OWASP "CSV Injection").
// A text cell whose first character (or first after leading spaces) is = + - @ TAB or CR
// is written with a leading apostrophe, so a spreadsheet shows it as text instead of
// running it as a formula. Numbers are written by number(), never guarded: they are ours,
// not a person's input, and a negative value stays a number (docs/case-export.md "CSV").
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace wim::collector::csv {

/// Whether a spreadsheet could read `v` as a formula (see above).
bool formula_like(std::string_view v);

/// A text cell: "'" prefixed when formula_like; quoted (quotes doubled) when it holds a
/// comma, quote, CR or LF or was prefixed.
std::string text(std::string_view v);

/// A number cell: `v` with `decimals` digits after the point ("%.*f"; "-12.5" stays -12.5).
std::string number(double v, int decimals);
/// An integer cell.
std::string number(std::int64_t v);

}  // namespace wim::collector::csv
