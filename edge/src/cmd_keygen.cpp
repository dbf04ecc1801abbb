// SPDX-License-Identifier: Apache-2.0
// `wim-edge keygen --out DIR --station ID`: provisioning of a station's identity.
#include <boost/program_options.hpp>
#include <iostream>

#include "wim/edge/keygen.hpp"

namespace po = boost::program_options;

int cmd_keygen(int argc, char** argv) {
  po::options_description desc("wim-edge keygen: create a station's signing key and TLS CSR");
  std::string out, station;
  desc.add_options()("help,h", "this text")("out", po::value(&out)->required(),
                                            "directory for the key files (created when missing)")(
      "station", po::value(&station)->required(), "station id, e.g. G017");
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help")) {
      std::cout << desc << "\n";
      return 0;
    }
    po::notify(vm);
    auto f = wim::edge::generate_station_identity(out, station);
    std::cout << "signing key      " << f.signing_key.string() << " (0600, keep secret)\n"
              << "public key       " << f.signing_pub.string() << " (register at the collector)\n"
              << "TLS client key   " << f.tls_key.string() << " (0600, keep secret)\n"
              << "TLS request      " << f.tls_csr.string()
              << " (have the deployment's CA sign it)\n"
              << "fingerprint      " << f.fingerprint << "\n";
    return 0;
  } catch (const po::error& e) {
    std::cerr << "wim-edge keygen: " << e.what() << "\n" << desc << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "wim-edge keygen: " << e.what() << "\n";
    return 1;
  }
}
