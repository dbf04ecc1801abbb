// SPDX-License-Identifier: Apache-2.0
// The register map of a Modbus amplifier, loaded from JSON (docs/register-map.md): the
// map is configuration, not code. Validation errors name the file and field.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/json.hpp>

namespace wim::hw {

enum class RegTable { holding, input };  ///< FC 03 / FC 04
enum class ValueType { int16, uint16, int32, uint32 };
enum class WordOrder { big, little };  ///< 32-bit: high word first / low word first

struct RegisterMap {
  std::string device;  ///< free text
  RegTable table = RegTable::holding;
  int slave_id = 1;                     ///< [-] unit id (RTU address; TCP unit id)
  int channel_count = 0;                ///< [-] 1..32
  double sample_rate_hz = 0;            ///< [Hz] the device's sampling rate
  std::optional<int> identity_address;  ///< register checked at connect
  std::uint16_t identity_value = 0;
  // FIFO block read in one request: [counter][count][samples sample-major]
  int fifo_address = 0;
  int counter_offset = 0;  ///< [registers] from fifo_address
  ValueType counter_type = ValueType::uint32;
  WordOrder counter_word_order = WordOrder::big;
  int count_offset = 2;  ///< [registers] valid samples in this block
  int data_offset = 3;   ///< [registers] first sample value
  int max_samples = 0;   ///< [samples] per read
  ValueType value_type = ValueType::int16;
  WordOrder value_word_order = WordOrder::big;
  double scale = 1.0;  ///< counts = raw × scale + offset
  double offset = 0.0;
  // Optional status registers, read about once a second
  std::optional<int> fault_bits_address;  ///< bit c: channel c reported faulty (open)

  int value_words() const;     ///< registers per value: 1 or 2
  int fifo_registers() const;  ///< registers of one FIFO read
  /// Decodes a value at regs[0..value_words()) into counts.
  std::int32_t decode_value(const std::uint16_t* regs) const;
  std::uint32_t decode_counter(const std::uint16_t* regs) const;
  /// Counter modulus: 2^16 or 2^32.
  std::uint64_t counter_modulus() const;

  /// Parses and checks; `what` names the source in errors ("amp.json").
  static RegisterMap from_json(const boost::json::value& v, const std::string& what);
  static RegisterMap load(const std::filesystem::path& path);
};

}  // namespace wim::hw
