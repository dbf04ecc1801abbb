// SPDX-License-Identifier: Apache-2.0
#include "wim/common/json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

#include <boost/json/basic_parser_impl.hpp>

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
    case bj::kind::double_: {
      // Shortest round-trip decimal ("46230.5"), locale-independent; Boost's own
      // formatter would print "4.62305E4", which is valid but hard for a court to read.
      // -0.0 is written "0": "-0" would parse back as the integer 0 and change the text.
      char buf[64];
      const double d = v.get_double() == 0 ? 0.0 : v.get_double();
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
      if (ec != std::errc()) throw InputError("canonical JSON: unprintable number");
      out.append(buf, end);
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

namespace {

// Boost.JSON 1.81's own parser converts decimals with a fast algorithm that is not always
// correctly rounded ("63.800000000000004" may come back one ulp off), so a signed
// manifest could fail to round-trip. This handler builds the same value tree as Boost's
// parser, but converts every decimal from its full text with std::from_chars (correctly
// rounded), so canonical(parse(x)) == x for every x we write.
struct PreciseHandler {
  static constexpr std::size_t max_object_size = bj::object::max_size();
  static constexpr std::size_t max_array_size = bj::array::max_size();
  static constexpr std::size_t max_key_size = bj::string::max_size();
  static constexpr std::size_t max_string_size = bj::string::max_size();

  bj::value_stack st;
  std::string number;  ///< text of the number being parsed (it may arrive in parts)

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) { return true; }
  bool on_object_end(std::size_t n, boost::system::error_code&) {
    st.push_object(n);
    return true;
  }
  bool on_array_begin(boost::system::error_code&) { return true; }
  bool on_array_end(std::size_t n, boost::system::error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(bj::string_view s, std::size_t, boost::system::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_key(bj::string_view s, std::size_t, boost::system::error_code&) {
    st.push_key(s);
    return true;
  }
  bool on_string_part(bj::string_view s, std::size_t, boost::system::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(bj::string_view s, std::size_t, boost::system::error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(bj::string_view s, boost::system::error_code&) {
    number.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, bj::string_view, boost::system::error_code&) {
    number.clear();
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, bj::string_view, boost::system::error_code&) {
    number.clear();
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, bj::string_view s, boost::system::error_code&) {
    number.append(s.data(), s.size());
    double exact = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), exact);
    // from_chars rejects nothing JSON allows except overflow (1e400): keep Boost's value
    // (inf) there, as before.
    if (ec == std::errc() && end == number.data() + number.size()) d = exact;
    number.clear();
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, boost::system::error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(boost::system::error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(bj::string_view, boost::system::error_code&) { return true; }
  bool on_comment(bj::string_view, boost::system::error_code&) { return true; }
};

}  // namespace

bj::value parse(std::string_view text, std::string_view what) {
  bj::basic_parser<PreciseHandler> p(bj::parse_options{});
  p.handler().st.reset();
  boost::system::error_code ec;
  std::size_t used = p.write_some(false, text.data(), text.size(), ec);
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
  return p.handler().st.release();
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
