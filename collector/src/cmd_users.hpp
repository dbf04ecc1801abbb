// SPDX-License-Identifier: Apache-2.0
#pragma once
#include <filesystem>

#include "wim/collector/config.hpp"
#include "wim/common/crypto.hpp"

namespace wim::collector {

/// `wim-collector add-user ...` (argv[0] is "add-user"); the process exit code.
int run_add_user(int argc, char** argv);

/// The collector's audit signing key (CollectorConfig::audit_key): loaded, or, when the
/// default path does not exist yet, created (0600) with <name>.pub.pem beside it.
crypto::SigningKey load_or_create_audit_key(const CollectorConfig& cfg);

}  // namespace wim::collector
