// SPDX-License-Identifier: Apache-2.0
#include "wim/hw/register_map.hpp"

#include <cmath>

#include "wim/common/error.hpp"
#include "wim/common/json.hpp"

namespace wim::hw {
namespace {

constexpr int kMaxReadRegisters = 125;  // Modbus: FC 03/04 read at most 125 registers
constexpr int kMaxAddress = 65535;

ValueType parse_type(const std::string& s, const std::string& field, const std::string& what) {
  if (s == "int16") return ValueType::int16;
  if (s == "uint16") return ValueType::uint16;
  if (s == "int32") return ValueType::int32;
  if (s == "uint32") return ValueType::uint32;
  throw InputError(what + ": " + field + ": '" + s + "' is not int16, uint16, int32 or uint32");
}

WordOrder parse_order(const std::string& s, const std::string& field, const std::string& what) {
  if (s == "big") return WordOrder::big;
  if (s == "little") return WordOrder::little;
  throw InputError(what + ": " + field + ": '" + s + "' is neither big nor little");
}

int words(ValueType t) {
  return t == ValueType::int16 || t == ValueType::uint16 ? 1 : 2;
}

}  // namespace

int RegisterMap::value_words() const {
  return words(value_type);
}

int RegisterMap::fifo_registers() const {
  return data_offset + max_samples * channel_count * value_words();
}

std::uint64_t RegisterMap::counter_modulus() const {
  return words(counter_type) == 1 ? (1ull << 16) : (1ull << 32);
}

static std::uint32_t join(const std::uint16_t* r, WordOrder o) {
  return o == WordOrder::big ? (std::uint32_t{r[0]} << 16) | r[1]
                             : (std::uint32_t{r[1]} << 16) | r[0];
}

std::int32_t RegisterMap::decode_value(const std::uint16_t* r) const {
  double raw = 0;
  switch (value_type) {
    case ValueType::int16:
      raw = static_cast<std::int16_t>(r[0]);
      break;
    case ValueType::uint16:
      raw = r[0];
      break;
    case ValueType::int32:
      raw = static_cast<std::int32_t>(join(r, value_word_order));
      break;
    case ValueType::uint32:
      raw = join(r, value_word_order);
      break;
  }
  if (scale == 1.0 && offset == 0.0) return static_cast<std::int32_t>(raw);
  return static_cast<std::int32_t>(std::lround(raw * scale + offset));
}

std::uint32_t RegisterMap::decode_counter(const std::uint16_t* r) const {
  return words(counter_type) == 1 ? r[0] : join(r, counter_word_order);
}

namespace {
RegisterMap parse_map(const boost::json::value& v, const std::string& what) {
  namespace wj = wim::json;
  auto bad = [&](const std::string& field, const std::string& why) -> InputError {
    return InputError(what + ": " + field + ": " + why);
  };
  const auto& o = wj::as_object(v, "");
  RegisterMap m;
  m.device = wj::get_string(o, "device", "", "");
  const std::string table = wj::get_string(o, "table", "", "holding");
  if (table == "holding")
    m.table = RegTable::holding;
  else if (table == "input")
    m.table = RegTable::input;
  else
    throw bad("table", "'" + table + "' is neither holding nor input");
  m.slave_id = static_cast<int>(wj::get_int(o, "slave_id", "", 1));
  if (m.slave_id < 0 || m.slave_id > 247) throw bad("slave_id", "must be in 0..247");
  m.channel_count = static_cast<int>(wj::get_int(o, "channel_count", ""));
  if (m.channel_count < 1 || m.channel_count > 32) throw bad("channel_count", "must be in 1..32");
  m.sample_rate_hz = wj::get_number(o, "sample_rate_hz", "");
  if (!(m.sample_rate_hz > 0 && m.sample_rate_hz <= 100000))
    throw bad("sample_rate_hz", "must be in (0, 100000] Hz");
  if (o.contains("identity")) {
    const auto& id = wj::as_object(o.at("identity"), "identity");
    m.identity_address = static_cast<int>(wj::get_int(id, "address", "identity"));
    const auto val = wj::get_int(id, "value", "identity");
    if (*m.identity_address < 0 || *m.identity_address > kMaxAddress)
      throw bad("identity.address", "must be in 0..65535");
    if (val < 0 || val > 65535) throw bad("identity.value", "must be in 0..65535");
    m.identity_value = static_cast<std::uint16_t>(val);
  }

  const auto& f = wj::as_object(wj::require(o, "fifo", ""), "fifo");
  m.fifo_address = static_cast<int>(wj::get_int(f, "address", "fifo"));
  if (m.fifo_address < 0 || m.fifo_address > kMaxAddress)
    throw bad("fifo.address", "must be in 0..65535");
  const auto& c = wj::as_object(wj::require(f, "counter", "fifo"), "fifo.counter");
  m.counter_offset = static_cast<int>(wj::get_int(c, "offset", "fifo.counter"));
  m.counter_type =
      parse_type(wj::get_string(c, "type", "fifo.counter", "uint32"), "fifo.counter.type", what);
  if (m.counter_type == ValueType::int16 || m.counter_type == ValueType::int32)
    throw bad("fifo.counter.type", "a sample counter is unsigned (uint16 or uint32)");
  m.counter_word_order = parse_order(wj::get_string(c, "word_order", "fifo.counter", "big"),
                                     "fifo.counter.word_order", what);
  m.count_offset = static_cast<int>(wj::get_int(
      wj::as_object(wj::require(f, "count", "fifo"), "fifo.count"), "offset", "fifo.count"));
  m.data_offset = static_cast<int>(wj::get_int(f, "data_offset", "fifo"));
  m.max_samples = static_cast<int>(wj::get_int(f, "max_samples", "fifo"));
  const std::string layout = wj::get_string(f, "layout", "fifo", "sample_major");
  if (layout != "sample_major")
    throw bad("fifo.layout", "'" + layout + "': only sample_major is supported");

  const auto& val = wj::as_object(wj::require(o, "value", ""), "value");
  m.value_type = parse_type(wj::get_string(val, "type", "value"), "value.type", what);
  m.value_word_order =
      parse_order(wj::get_string(val, "word_order", "value", "big"), "value.word_order", what);
  m.scale = wj::get_number(val, "scale", "value", 1.0);
  m.offset = wj::get_number(val, "offset", "value", 0.0);
  if (!(m.scale != 0 && std::isfinite(m.scale)))
    throw bad("value.scale", "must be finite and non-zero");

  // The three parts of a FIFO read must not overlap, and it must fit one request.
  const int cw = words(m.counter_type);
  if (m.counter_offset < 0 || m.count_offset < 0 || m.data_offset < 0)
    throw bad("fifo", "offsets must be >= 0");
  if (m.count_offset >= m.counter_offset && m.count_offset < m.counter_offset + cw)
    throw bad("fifo.count.offset", "overlaps fifo.counter");
  if (m.data_offset <= std::max(m.counter_offset + cw - 1, m.count_offset))
    throw bad("fifo.data_offset", "must come after fifo.counter and fifo.count");
  if (m.max_samples < 1) throw bad("fifo.max_samples", "must be >= 1");
  if (m.fifo_registers() > kMaxReadRegisters)
    throw bad("fifo.max_samples",
              std::to_string(m.max_samples) + " samples x " + std::to_string(m.channel_count) +
                  " channels x " + std::to_string(m.value_words()) + " registers + " +
                  std::to_string(m.data_offset) + " = " + std::to_string(m.fifo_registers()) +
                  " registers, above the 125 one Modbus read can carry");
  if (m.fifo_address + m.fifo_registers() - 1 > kMaxAddress)
    throw bad("fifo.address", "the block runs past register 65535");

  if (o.contains("status")) {
    const auto& s = wj::as_object(o.at("status"), "status");
    if (s.contains("fault_bits_address")) {
      m.fault_bits_address = static_cast<int>(wj::get_int(s, "fault_bits_address", "status"));
      if (*m.fault_bits_address < 0 || *m.fault_bits_address > kMaxAddress)
        throw bad("status.fault_bits_address", "must be in 0..65535");
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
