// SPDX-License-Identifier: Apache-2.0
// Strict JSON objects for hw/ configuration: a field the code does not know is refused,
// naming it (and the known field it most resembles), so a typo never falls back to a
// default silently.
#pragma once
#include <initializer_list>
#include <string>
#include <string_view>

#include <boost/json.hpp>

namespace wim::hw {

/// Throws InputError "<ctx.key>: unknown field" (+ "(did you mean 'x'?)" when a known field
/// is within two edits) for the first key of `o` not in `known`.
void refuse_unknown_fields(const boost::json::object& o,
                           std::initializer_list<std::string_view> known, std::string_view ctx);

}  // namespace wim::hw
