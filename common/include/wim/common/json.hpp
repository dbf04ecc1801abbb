// SPDX-License-Identifier: Apache-2.0
// Boost.JSON is the project's one JSON library. These helpers give deterministic output
// (what is signed must serialise the same everywhere) and field access whose errors name
// the field, e.g. "station.json: channels[3].gain: expected a number".
#pragma once
#include <boost/json.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace wim::json {

namespace bj = boost::json;

/// Serialises with object keys sorted (byte order) at every level and no white space.
/// Numbers print locale-independently (Boost.JSON's own formatter).
std::string canonical(const bj::value& v);

/// Parses `text`; throws InputError "<what>: line L, column C: <reason>".
bj::value parse(std::string_view text, std::string_view what);
/// Reads and parses a file; errors name the file.
bj::value load_file(const std::filesystem::path& path);

/// Typed field access. `ctx` is where the object sits ("channels[2]"), used in errors.
const bj::object& as_object(const bj::value& v, std::string_view ctx);
const bj::value& require(const bj::object& o, std::string_view key, std::string_view ctx);
double get_number(const bj::object& o, std::string_view key, std::string_view ctx);
double get_number(const bj::object& o, std::string_view key, std::string_view ctx, double dflt);
std::int64_t get_int(const bj::object& o, std::string_view key, std::string_view ctx);
std::int64_t get_int(const bj::object& o, std::string_view key, std::string_view ctx,
                     std::int64_t dflt);
std::string get_string(const bj::object& o, std::string_view key, std::string_view ctx);
std::string get_string(const bj::object& o, std::string_view key, std::string_view ctx,
                       std::string_view dflt);
bool get_bool(const bj::object& o, std::string_view key, std::string_view ctx, bool dflt);
const bj::array& get_array(const bj::object& o, std::string_view key, std::string_view ctx);
/// "ctx.key" (or "key" when ctx is empty), for building nested contexts.
std::string field_path(std::string_view ctx, std::string_view key);

}  // namespace wim::json
