// SPDX-License-Identifier: Apache-2.0
// Contract 3: one JSON object per weighed vehicle (the named fields plus validity,
// class, reasons, per-axle speeds and the full legal basis).
#pragma once
#include <boost/json/object.hpp>

#include "wim/edge/weigh/types.hpp"

namespace wim::weigh {

/// Legal basis as JSON (also what records carry).
boost::json::object legal_basis_json(const legal::LegalBasis& b);
/// The contract-3 line for one vehicle; `software_sha256` identifies the legal code.
boost::json::object vehicle_json(const WeighedVehicle& v);

}  // namespace wim::weigh
