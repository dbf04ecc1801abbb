// SPDX-License-Identifier: Apache-2.0
#include "wim/common/json.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

#include "wim/common/error.hpp"

namespace wim::json {
namespace {

void write_canonical(const bj::value& v, std::string& out) {
  switch (v.kind()) {
    case bj::kind::object: {
      const auto& o = v.get_object();
      std::vector<const bj::key_value_pair*> items;
      items.reserve(o.size());
      for (const auto& kv : o) items.push_back(&kv);
      std::sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
      out.push_back('{');
      bool first = true;
      for (auto* kv : items) {
        if (!first) out.push_back(',');
        first = false;
        out += bj::serialize(bj::value(kv->key()));
        out.push_back(':');
        write_canonical(kv->value(), out);
      }
      out.push_back('}');
      break;
    }
    case bj::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        write_canonical(e, out);
      }
      out.push_back(']');
      break;
    }
    default:
      out += bj::serialize(v);
  }
}

[[noreturn]] void type_error(std::string_view ctx, std::string_view key, const char* expected) {
  throw InputError(field_path(ctx, key) + ": expected " + expected);
}

}  // namespace

std::string field_path(std::string_view ctx, std::string_view key) {
  if (ctx.empty()) return std::string(key);
  return std::string(ctx) + "." + std::string(key);
}

std::string canonical(const bj::value& v) {
  std::string out;
  write_canonical(v, out);
  return out;
}

bj::value parse(std::string_view text, std::string_view what) {
  bj::stream_parser p;
  boost::system::error_code ec;
  std::size_t used = p.write_some(text.data(), text.size(), ec);
  if (!ec) p.finish(ec);
  if (!ec && used < text.size()) {
    // trailing garbage after a complete value
    std::size_t rest = text.find_first_not_of(" \t\r\n", used);
    if (rest != std::string_view::npos) ec = bj::error::extra_data, used = rest;
  }
  if (ec) {
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i < std::min(used, text.size()); ++i) {
      if (text[i] == '\n')
        ++line, col = 1;
      else
        ++col;
    }
    throw InputError(std::string(what) + ": line " + std::to_string(line) + ", column " +
                     std::to_string(col) + ": " + ec.message());
  }
  return p.release();
}

bj::value load_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string() + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path.string());
}

const bj::object& as_object(const bj::value& v, std::string_view ctx) {
  if (!v.is_object())
    throw InputError(std::string(ctx.empty() ? "document" : ctx) + ": expected an object");
  return v.get_object();
}

const bj::value& require(const bj::object& o, std::string_view key, std::string_view ctx) {
  auto it = o.find(key);
  if (it == o.end()) throw InputError(field_path(ctx, key) + ": missing");
  return it->value();
}

double get_number(const bj::object& o, std::string_view key, std::string_view ctx) {
  const auto& v = require(o, key, ctx);
  double d = 0;
  if (v.is_double())
    d = v.get_double();
  else if (v.is_int64())
    d = static_cast<double>(v.get_int64());
  else if (v.is_uint64())
    d = static_cast<double>(v.get_uint64());
  else
    type_error(ctx, key, "a number");
  if (!std::isfinite(d)) type_error(ctx, key, "a finite number");
  return d;
}

double get_number(const bj::object& o, std::string_view key, std::string_view ctx, double dflt) {
  return o.contains(key) ? get_number(o, key, ctx) : dflt;
}

std::int64_t get_int(const bj::object& o, std::string_view key, std::string_view ctx) {
  const auto& v = require(o, key, ctx);
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
    return static_cast<std::int64_t>(v.get_uint64());
  if (v.is_double() && std::trunc(v.get_double()) == v.get_double() &&
      std::fabs(v.get_double()) < 9.0e15)
    return static_cast<std::int64_t>(v.get_double());
  type_error(ctx, key, "an integer");
}

std::int64_t get_int(const bj::object& o, std::string_view key, std::string_view ctx,
                     std::int64_t dflt) {
  return o.contains(key) ? get_int(o, key, ctx) : dflt;
}

std::string get_string(const bj::object& o, std::string_view key, std::string_view ctx) {
  const auto& v = require(o, key, ctx);
  if (!v.is_string()) type_error(ctx, key, "a string");
  return std::string(v.get_string());
}

std::string get_string(const bj::object& o, std::string_view key, std::string_view ctx,
                       std::string_view dflt) {
  return o.contains(key) ? get_string(o, key, ctx) : std::string(dflt);
}

bool get_bool(const bj::object& o, std::string_view key, std::string_view ctx, bool dflt) {
  if (!o.contains(key)) return dflt;
  const auto& v = o.at(key);
  if (!v.is_bool()) type_error(ctx, key, "true or false");
  return v.get_bool();
}

const bj::array& get_array(const bj::object& o, std::string_view key, std::string_view ctx) {
  const auto& v = require(o, key, ctx);
  if (!v.is_array()) type_error(ctx, key, "an array");
  return v.get_array();
}

}  // namespace wim::json
