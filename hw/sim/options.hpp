// SPDX-License-Identifier: Apache-2.0
// Command-line options of wim-sim shared by its sub-commands.
#pragma once
#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "record.hpp"

namespace wim::sim {

/// Adds the site, traffic and fault options (bound to `opt`'s fields where possible).
void add_sim_options(boost::program_options::options_description& desc, SimOptions& opt);
/// Applies the options that need parsing (rows, kind, mix, faults) after notify();
/// throws InputError naming the option.
void finish_sim_options(const boost::program_options::variables_map& vm, SimOptions& opt);

}  // namespace wim::sim
