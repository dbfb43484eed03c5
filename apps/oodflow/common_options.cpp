#include "commands.h"

namespace oodflow::cli {

void add_compute_options(CLI::App* sub, int& threads, std::string& device) {
  sub->add_option("--threads", threads,
                  "Compute threads for LibTorch and OpenBLAS. 0 = automatic, the fastest measured: "
                  "OpenBLAS on all cores, LibTorch on all cores only if OMP_WAIT_POLICY=passive "
                  "is set, else 1 (see README, Speed)")
      ->capture_default_str();
  sub->add_option("--device", device, "cpu, cuda or cuda:N")->capture_default_str();
}

}  // namespace oodflow::cli
