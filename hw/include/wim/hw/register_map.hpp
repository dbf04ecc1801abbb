// SPDX-License-Identifier: Apache-2.0
// The register map of a Modbus amplifier, loaded from JSON (docs/register-map.md): the
// map is configuration, not code. Validation is strict: an unknown or misspelt field, a
// value out of range or registers that overlap are refused, naming the file and field.
//
// Modbus itself defines only 16-bit registers sent big-endian (Modbus Application Protocol
// V1.1b3, §4.2); how a 32- or 64-bit quantity spreads over several registers is the
// vendor's choice, hence `word_order` on every multi-register field.
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
enum class ValueType { int16, uint16, int32, uint32, float32, float64 };
enum class WordOrder { big, little };  ///< multi-register: high word first / low word first
/// FIFO data: s0c0 s0c1 … s1c0 … (sample_major) or c0s0 c0s1 … c1s0 … with a stride of
/// max_samples per channel (channel_major).
enum class FifoLayout { sample_major, channel_major };

/// One device register (or 2/4 for 32/64-bit types) read outside the FIFO block.
struct DeviceRegister {
  RegTable table = RegTable::holding;
  int address = 0;
  ValueType type = ValueType::uint16;
  WordOrder word_order = WordOrder::big;
  int words() const;
  /// The value as an unsigned integer (floats: rounded); regs holds words().
  std::uint64_t decode(const std::uint16_t* regs) const;
};

struct RegisterMap {
  std::string device;                  ///< free text
  RegTable table = RegTable::holding;  ///< the FIFO block's table
  int slave_id = 1;                    ///< [-] unit id 0..255 (RTU: 1..247, checked by the driver)
  int channel_count = 0;               ///< [-] 1..32
  double sample_rate_hz = 0;           ///< [Hz] the device's sampling rate (nominal)

  /// Checked at every connect: `values.size()` consecutive registers from `address`.
  struct Identity {
    RegTable table = RegTable::holding;
    int address = 0;
    std::vector<std::uint16_t> values;
  };
  std::optional<Identity> identity;
  /// Device-reported facts, read at every connect and compared with the map.
  std::optional<DeviceRegister> reported_channel_count, reported_sample_rate_hz;
  /// Restart detection (read with the status registers): a boot counter that changes, or
  /// an uptime [s] that goes back, means the device restarted.
  std::optional<DeviceRegister> boot_counter, uptime_s;

  // FIFO block read in one request: counter, count and the samples, in any order.
  int fifo_address = 0;
  int counter_offset = 0;  ///< [registers] from fifo_address
  ValueType counter_type = ValueType::uint32;
  WordOrder counter_word_order = WordOrder::big;
  int count_offset = 2;  ///< [registers] valid samples in this block
  int data_offset = 3;   ///< [registers] first sample value
  int max_samples = 0;   ///< [samples] per read
  FifoLayout layout = FifoLayout::sample_major;
  std::optional<std::uint64_t> capacity_samples;  ///< [samples] the device FIFO's depth
  /// Acknowledged-read FIFO: the driver writes the count it consumed to this register
  /// (FC 06) after each read; an unanswered read pops nothing, so it loses nothing.
  std::optional<int> ack_address;

  ValueType value_type = ValueType::int16;
  WordOrder value_word_order = WordOrder::big;
  double scale = 1.0;  ///< counts = raw × scale + offset
  double offset = 0.0;

  // Optional status registers, read about once a second
  std::optional<int> fault_bits_address;  ///< bit c: channel c reported faulty (open)
  int fault_bits_registers = 1;           ///< 1 (channels 0-15) or 2 (0-31, word_order below)
  WordOrder fault_bits_word_order = WordOrder::big;
  /// A bit that says the device FIFO overflowed (samples overwritten).
  struct Flag {
    RegTable table = RegTable::holding;
    int address = 0;
    int bit = 0;
  };
  std::optional<Flag> overflow_flag;

  int value_words() const;     ///< registers per value: 1, 2 or 4
  int counter_words() const;   ///< 1 or 2
  int fifo_registers() const;  ///< registers of one FIFO read
  /// Register index (from fifo_address) of sample s, channel c.
  int value_index(int sample, int channel) const;
  /// Decodes a value at regs[0..value_words()) into counts; false when it is not a number
  /// or does not fit int32 counts after scale and offset.
  bool decode_value(const std::uint16_t* regs, std::int32_t& counts) const;
  std::uint32_t decode_counter(const std::uint16_t* regs) const;
  /// Counter modulus: 2^16 or 2^32.
  std::uint64_t counter_modulus() const;

  /// Parses and checks; `what` names the source in errors ("amp.json").
  static RegisterMap from_json(const boost::json::value& v, const std::string& what);
  static RegisterMap load(const std::filesystem::path& path);
};

}  // namespace wim::hw
