// SPDX-License-Identifier: Apache-2.0
#include "wim/hw/register_map.hpp"

#include <bit>
#include <cmath>
#include <limits>

#include "wim/common/error.hpp"
#include "wim/common/json.hpp"
#include "wim/hw/json_fields.hpp"

namespace wim::hw {
namespace {

namespace wj = wim::json;
using wj::field_path;

// Modbus Application Protocol V1.1b3 §6.3/§6.4: FC 03/04 read 1 to 125 registers.
constexpr int kMaxReadRegisters = 125;
constexpr int kMaxAddress = 65535;

int words(ValueType t) {
  switch (t) {
    case ValueType::int16:
    case ValueType::uint16:
      return 1;
    case ValueType::int32:
    case ValueType::uint32:
    case ValueType::float32:
      return 2;
    case ValueType::float64:
      return 4;
  }
  return 1;
}

// The registers r[0..n) as one integer, r[0] the highest word when big.
std::uint64_t join(const std::uint16_t* r, int n, WordOrder o) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 16) | r[o == WordOrder::big ? i : n - 1 - i];
  return v;
}

// The raw value as a double (integers exact up to 2^53).
double raw_value(const std::uint16_t* r, ValueType t, WordOrder o) {
  switch (t) {
    case ValueType::int16:
      return static_cast<std::int16_t>(r[0]);
    case ValueType::uint16:
      return r[0];
    case ValueType::int32:
      return static_cast<std::int32_t>(static_cast<std::uint32_t>(join(r, 2, o)));
    case ValueType::uint32:
      return static_cast<double>(join(r, 2, o));
    case ValueType::float32:
      return std::bit_cast<float>(static_cast<std::uint32_t>(join(r, 2, o)));
    case ValueType::float64:
      return std::bit_cast<double>(join(r, 4, o));
  }
  return 0;
}

}  // namespace

int DeviceRegister::words() const {
  return hw::words(type);
}

std::uint64_t DeviceRegister::decode(const std::uint16_t* regs) const {
  const double v = raw_value(regs, type, word_order);
  if (!std::isfinite(v) || v < 0) return 0;
  return static_cast<std::uint64_t>(std::llround(std::min(v, 9.0e18)));
}

int RegisterMap::value_words() const {
  return words(value_type);
}

int RegisterMap::counter_words() const {
  return words(counter_type);
}

int RegisterMap::fifo_registers() const {
  const int data_end = data_offset + max_samples * channel_count * value_words();
  return std::max({data_end, counter_offset + counter_words(), count_offset + 1});
}

int RegisterMap::value_index(int sample, int channel) const {
  const int w = value_words();
  return layout == FifoLayout::sample_major ? data_offset + (sample * channel_count + channel) * w
                                            : data_offset + (channel * max_samples + sample) * w;
}

std::uint64_t RegisterMap::counter_modulus() const {
  return counter_words() == 1 ? (1ull << 16) : (1ull << 32);
}

bool RegisterMap::decode_value(const std::uint16_t* r, std::int32_t& counts) const {
  const double raw = raw_value(r, value_type, value_word_order);
  if (value_type != ValueType::float32 && value_type != ValueType::float64 && scale == 1.0 &&
      offset == 0.0 && raw >= -2147483648.0 && raw <= 2147483647.0) {
    counts = static_cast<std::int32_t>(raw);
    return true;
  }
  const double v = std::round(raw * scale + offset);
  if (!std::isfinite(v) || v < -2147483648.0 || v > 2147483647.0) return false;
  counts = static_cast<std::int32_t>(v);
  return true;
}

std::uint32_t RegisterMap::decode_counter(const std::uint16_t* r) const {
  return static_cast<std::uint32_t>(join(r, counter_words(), counter_word_order));
}

namespace {

struct Parser {
  const std::string& what;
  InputError bad(const std::string& field, const std::string& why) const {
    return InputError(what + ": " + field + ": " + why);
  }
  int address(const boost::json::object& o, std::string_view key, const std::string& ctx) const {
    const auto a = wj::get_int(o, key, ctx);
    if (a < 0 || a > kMaxAddress) throw bad(field_path(ctx, key), "must be in 0..65535");
    return static_cast<int>(a);
  }
  ValueType type(const std::string& s, const std::string& field) const {
    if (s == "int16") return ValueType::int16;
    if (s == "uint16") return ValueType::uint16;
    if (s == "int32") return ValueType::int32;
    if (s == "uint32") return ValueType::uint32;
    if (s == "float32") return ValueType::float32;
    if (s == "float64") return ValueType::float64;
    throw bad(field, "'" + s + "' is not int16, uint16, int32, uint32, float32 or float64");
  }
  WordOrder order(const boost::json::object& o, const std::string& ctx) const {
    const std::string s = wj::get_string(o, "word_order", ctx, "big");
    if (s == "big") return WordOrder::big;
    if (s == "little") return WordOrder::little;
    throw bad(field_path(ctx, "word_order"), "'" + s + "' is neither big nor little");
  }
  RegTable table(const boost::json::object& o, const std::string& ctx, RegTable dflt) const {
    if (!o.contains("table")) return dflt;
    const std::string t = wj::get_string(o, "table", ctx);
    if (t == "holding") return RegTable::holding;
    if (t == "input") return RegTable::input;
    throw bad(field_path(ctx, "table"), "'" + t + "' is neither holding nor input");
  }
  DeviceRegister device_register(const boost::json::value& v, const std::string& ctx,
                                 RegTable dflt) const {
    const auto& o = wj::as_object(v, ctx);
    refuse_unknown_fields(o, {"table", "address", "type", "word_order"}, ctx);
    DeviceRegister r;
    r.table = table(o, ctx, dflt);
    r.address = address(o, "address", ctx);
    r.type = type(wj::get_string(o, "type", ctx, "uint16"), field_path(ctx, "type"));
    r.word_order = order(o, ctx);
    if (r.address + r.words() - 1 > kMaxAddress) throw bad(ctx, "runs past register 65535");
    return r;
  }
};

RegisterMap parse_map(const boost::json::value& v, const std::string& what) {
  const Parser p{what};
  const auto& o = wj::as_object(v, "");
  refuse_unknown_fields(o,
                        {"device", "table", "slave_id", "channel_count", "sample_rate_hz",
                         "identity", "device_info", "fifo", "value", "status"},
                        "");
  RegisterMap m;
  m.device = wj::get_string(o, "device", "", "");
  m.table = p.table(o, "", RegTable::holding);
  // Unit id: one byte (Modbus Application Protocol V1.1b3 §4.1; 255 is the usual
  // Modbus/TCP id of a device reached directly). RTU's 1..247 is checked by the driver.
  const auto unit = wj::get_int(o, "slave_id", "", 1);
  if (unit < 0 || unit > 255) throw p.bad("slave_id", "must be in 0..255");
  m.slave_id = static_cast<int>(unit);
  m.channel_count = static_cast<int>(wj::get_int(o, "channel_count", ""));
  if (m.channel_count < 1 || m.channel_count > 32) throw p.bad("channel_count", "must be in 1..32");
  m.sample_rate_hz = wj::get_number(o, "sample_rate_hz", "");
  if (!(m.sample_rate_hz > 0 && m.sample_rate_hz <= 100000))
    throw p.bad("sample_rate_hz", "must be in (0, 100000] Hz");

  if (o.contains("identity")) {
    const auto& id = wj::as_object(o.at("identity"), "identity");
    refuse_unknown_fields(id, {"table", "address", "value", "values"}, "identity");
    RegisterMap::Identity ident;
    ident.table = p.table(id, "identity", m.table);
    ident.address = p.address(id, "address", "identity");
    if (id.contains("value") == id.contains("values"))
      throw p.bad("identity",
                  "give exactly one of \"value\" (one register) or \"values\" (several)");
    std::vector<std::int64_t> vals;
    if (id.contains("value")) {
      vals.push_back(wj::get_int(id, "value", "identity"));
    } else {
      const auto& a = wj::get_array(id, "values", "identity");
      if (a.empty() || a.size() > kMaxReadRegisters)
        throw p.bad("identity.values", "must hold 1..125 registers");
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (!a[i].is_int64() && !a[i].is_uint64())
          throw p.bad("identity.values[" + std::to_string(i) + "]", "expected an integer");
        vals.push_back(a[i].to_number<std::int64_t>());
      }
    }
    for (std::size_t i = 0; i < vals.size(); ++i) {
      if (vals[i] < 0 || vals[i] > 65535)
        throw p.bad(
            id.contains("value") ? "identity.value" : "identity.values[" + std::to_string(i) + "]",
            "must be in 0..65535");
      ident.values.push_back(static_cast<std::uint16_t>(vals[i]));
    }
    if (ident.address + static_cast<int>(ident.values.size()) - 1 > kMaxAddress)
      throw p.bad("identity", "runs past register 65535");
    m.identity = ident;
  }

  if (o.contains("device_info")) {
    const auto& d = wj::as_object(o.at("device_info"), "device_info");
    refuse_unknown_fields(d, {"channel_count", "sample_rate_hz", "boot_counter", "uptime_s"},
                          "device_info");
    auto reg = [&](const char* key) -> std::optional<DeviceRegister> {
      if (!d.contains(key)) return std::nullopt;
      return p.device_register(d.at(key), field_path("device_info", key), m.table);
    };
    m.reported_channel_count = reg("channel_count");
    m.reported_sample_rate_hz = reg("sample_rate_hz");
    m.boot_counter = reg("boot_counter");
    m.uptime_s = reg("uptime_s");
  }

  const auto& f = wj::as_object(wj::require(o, "fifo", ""), "fifo");
  refuse_unknown_fields(f,
                        {"address", "counter", "count", "data_offset", "max_samples", "layout",
                         "capacity_samples", "ack"},
                        "fifo");
  m.fifo_address = p.address(f, "address", "fifo");
  const auto& c = wj::as_object(wj::require(f, "counter", "fifo"), "fifo.counter");
  refuse_unknown_fields(c, {"offset", "type", "word_order"}, "fifo.counter");
  m.counter_offset = static_cast<int>(wj::get_int(c, "offset", "fifo.counter"));
  m.counter_type = p.type(wj::get_string(c, "type", "fifo.counter", "uint32"), "fifo.counter.type");
  if (m.counter_type != ValueType::uint16 && m.counter_type != ValueType::uint32)
    throw p.bad("fifo.counter.type", "a sample counter is unsigned (uint16 or uint32)");
  m.counter_word_order = p.order(c, "fifo.counter");
  const auto& cnt = wj::as_object(wj::require(f, "count", "fifo"), "fifo.count");
  refuse_unknown_fields(cnt, {"offset"}, "fifo.count");
  m.count_offset = static_cast<int>(wj::get_int(cnt, "offset", "fifo.count"));
  m.data_offset = static_cast<int>(wj::get_int(f, "data_offset", "fifo"));
  m.max_samples = static_cast<int>(wj::get_int(f, "max_samples", "fifo"));
  const std::string layout = wj::get_string(f, "layout", "fifo", "sample_major");
  if (layout == "sample_major")
    m.layout = FifoLayout::sample_major;
  else if (layout == "channel_major")
    m.layout = FifoLayout::channel_major;
  else
    throw p.bad("fifo.layout", "'" + layout + "' is neither sample_major nor channel_major");
  if (f.contains("capacity_samples")) {
    const auto cap = wj::get_int(f, "capacity_samples", "fifo");
    if (cap < 1 || cap > (std::int64_t{1} << 32))
      throw p.bad("fifo.capacity_samples", "must be in 1..2^32");
    m.capacity_samples = static_cast<std::uint64_t>(cap);
  }
  if (f.contains("ack")) {
    const auto& a = wj::as_object(f.at("ack"), "fifo.ack");
    refuse_unknown_fields(a, {"address"}, "fifo.ack");
    m.ack_address = p.address(a, "address", "fifo.ack");
  }

  const auto& val = wj::as_object(wj::require(o, "value", ""), "value");
  refuse_unknown_fields(val, {"type", "word_order", "scale", "offset"}, "value");
  m.value_type = p.type(wj::get_string(val, "type", "value"), "value.type");
  m.value_word_order = p.order(val, "value");
  m.scale = wj::get_number(val, "scale", "value", 1.0);
  m.offset = wj::get_number(val, "offset", "value", 0.0);
  if (!(m.scale != 0 && std::isfinite(m.scale)))
    throw p.bad("value.scale", "must be finite and non-zero");
  if (!std::isfinite(m.offset)) throw p.bad("value.offset", "must be finite");

  // The three parts of a FIFO read (counter, count, data) must not overlap, and the
  // block must fit one request.
  if (m.counter_offset < 0) throw p.bad("fifo.counter.offset", "must be >= 0");
  if (m.count_offset < 0) throw p.bad("fifo.count.offset", "must be >= 0");
  if (m.data_offset < 0) throw p.bad("fifo.data_offset", "must be >= 0");
  if (m.max_samples < 1) throw p.bad("fifo.max_samples", "must be >= 1");
  const int cw = m.counter_words();
  const int data_end = m.data_offset + m.max_samples * m.channel_count * m.value_words();
  auto overlap = [](int a0, int a1, int b0, int b1) { return a0 < b1 && b0 < a1; };
  if (overlap(m.count_offset, m.count_offset + 1, m.counter_offset, m.counter_offset + cw))
    throw p.bad("fifo.count.offset", "overlaps fifo.counter");
  if (overlap(m.data_offset, data_end, m.counter_offset, m.counter_offset + cw))
    throw p.bad("fifo.data_offset", "the data (registers " + std::to_string(m.data_offset) + ".." +
                                        std::to_string(data_end - 1) + ") overlaps fifo.counter");
  if (overlap(m.data_offset, data_end, m.count_offset, m.count_offset + 1))
    throw p.bad("fifo.data_offset", "the data (registers " + std::to_string(m.data_offset) + ".." +
                                        std::to_string(data_end - 1) + ") overlaps fifo.count");
  if (m.fifo_registers() > kMaxReadRegisters)
    throw p.bad("fifo.max_samples",
                std::to_string(m.max_samples) + " samples x " + std::to_string(m.channel_count) +
                    " channels x " + std::to_string(m.value_words()) +
                    " registers + header = " + std::to_string(m.fifo_registers()) +
                    " registers, above the 125 one Modbus read can carry");
  if (m.fifo_address + m.fifo_registers() - 1 > kMaxAddress)
    throw p.bad("fifo.address", "the block runs past register 65535");

  if (o.contains("status")) {
    const auto& s = wj::as_object(o.at("status"), "status");
    refuse_unknown_fields(
        s, {"fault_bits_address", "fault_bits_registers", "fault_bits_word_order", "overflow"},
        "status");
    if (s.contains("fault_bits_address"))
      m.fault_bits_address = p.address(s, "fault_bits_address", "status");
    m.fault_bits_registers = static_cast<int>(wj::get_int(s, "fault_bits_registers", "status", 1));
    if (m.fault_bits_registers != 1 && m.fault_bits_registers != 2)
      throw p.bad("status.fault_bits_registers", "must be 1 (channels 0-15) or 2 (0-31)");
    if (m.channel_count > 16 * m.fault_bits_registers && m.fault_bits_address)
      throw p.bad("status.fault_bits_registers",
                  std::to_string(m.channel_count) + " channels need 2 registers of fault bits");
    const std::string wo = wj::get_string(s, "fault_bits_word_order", "status", "big");
    if (wo != "big" && wo != "little")
      throw p.bad("status.fault_bits_word_order", "'" + wo + "' is neither big nor little");
    m.fault_bits_word_order = wo == "big" ? WordOrder::big : WordOrder::little;
    if (s.contains("overflow")) {
      const auto& ov = wj::as_object(s.at("overflow"), "status.overflow");
      refuse_unknown_fields(ov, {"table", "address", "bit"}, "status.overflow");
      RegisterMap::Flag fl;
      fl.table = p.table(ov, "status.overflow", m.table);
      fl.address = p.address(ov, "address", "status.overflow");
      const auto bit = wj::get_int(ov, "bit", "status.overflow");
      if (bit < 0 || bit > 15) throw p.bad("status.overflow.bit", "must be in 0..15");
      fl.bit = static_cast<int>(bit);
      m.overflow_flag = fl;
    }
  }
  return m;
}

}  // namespace

RegisterMap RegisterMap::from_json(const boost::json::value& v, const std::string& what) {
  try {
    return parse_map(v, what);
  } catch (const InputError& e) {
    const std::string msg = e.what();
    if (msg.rfind(what + ": ", 0) == 0) throw;
    throw InputError(what + ": " + msg);  // the JSON helpers name the field, we the file
  }
}

RegisterMap RegisterMap::load(const std::filesystem::path& path) {
  return from_json(json::load_file(path), path.string());
}

}  // namespace wim::hw
