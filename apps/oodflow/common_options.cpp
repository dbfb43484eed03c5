#include "commands.h"

namespace oodflow::cli {

void add_compute_options(CLI::App* sub, int& threads, std::string& device,
                         const std::string& automatic_threads) {
  sub->add_option(
         "--threads", threads,
         "Compute threads for LibTorch and OpenBLAS. 0 = automatic, the fastest measured: " +
             automatic_threads + " (see README, Speed)")
      ->capture_default_str();
  sub->add_option("--device", device, "cpu, cuda or cuda:N")->capture_default_str();
}

}  // namespace oodflow::cli
