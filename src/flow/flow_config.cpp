#include "oodflow/flow/flow_config.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "oodflow/core/error.h"

namespace oodflow::flow {

const std::vector<std::string>& flow_arch_names() {
  static const std::vector<std::string> names = {"glow", "realnvp"};
  return names;
}

const std::vector<std::string>& flow_base_names() {
  static const std::vector<std::string> names = {"normal", "class"};
  return names;
}

const std::vector<std::string>& class_score_names() {
  static const std::vector<std::string> names = {"marginal", "max"};
  return names;
}

std::int64_t default_blocks(const std::string& arch) {
  return arch == "realnvp" ? 4 : 10;
}

void validate(const FlowConfig& c) {
  const auto& names = flow_arch_names();
  OODFLOW_CHECK(std::find(names.begin(), names.end(), c.arch) != names.end(),
                "unknown flow architecture '" << c.arch << "' (known: glow, realnvp)");
  OODFLOW_CHECK(c.dim >= 2, "a flow needs features of dimension >= 2, got " << c.dim);
  OODFLOW_CHECK(c.blocks >= 1, "--blocks must be >= 1, got " << c.blocks);
  OODFLOW_CHECK(c.hidden >= 1, "--hidden must be >= 1, got " << c.hidden);
  OODFLOW_CHECK(c.scale_clamp >= 0, "--scale-clamp must be >= 0 (0 = off), got " << c.scale_clamp);
  auto known = [](const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  OODFLOW_CHECK(known(flow_base_names(), c.base),
                "unknown flow base '" << c.base << "' (known: normal, class)");
  OODFLOW_CHECK(known(class_score_names(), c.class_score),
                "unknown class score '" << c.class_score << "' (known: marginal, max)");
  OODFLOW_CHECK(c.base != "class" || c.classes >= 1,
                "a class-conditional base needs at least one class, got " << c.classes);
}

std::string to_json_text(const FlowConfig& c) {
  nlohmann::json j = {{"arch", c.arch},
                      {"dim", c.dim},
                      {"blocks", c.blocks},
                      {"hidden", c.hidden},
                      {"scale_clamp", c.scale_clamp}};
  // Only non-default bases are written, so that files of the paper's flow stay as before.
  if (c.base != "normal") {
    j["base"] = c.base;
    j["classes"] = c.classes;
    j["class_score"] = c.class_score;
  }
  return j.dump();
}

FlowConfig flow_config_from_json_text(const std::string& text, const std::string& source) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  OODFLOW_CHECK(!j.is_discarded() && j.is_object(),
                "'" << source << "' has a corrupt flow architecture record");
  FlowConfig c;
  try {
    c.arch = j.at("arch").get<std::string>();
    c.dim = j.at("dim").get<std::int64_t>();
    c.blocks = j.at("blocks").get<std::int64_t>();
    c.hidden = j.at("hidden").get<std::int64_t>();
    c.scale_clamp = j.at("scale_clamp").get<double>();
    c.base = j.value("base", std::string("normal"));
    c.classes = j.value("classes", std::int64_t{0});
    c.class_score = j.value("class_score", std::string("marginal"));
  } catch (const nlohmann::json::exception& e) {
    OODFLOW_FAIL("'" << source << "' has a corrupt flow architecture record: " << e.what());
  }
  try {
    validate(c);
  } catch (const Error& e) {
    OODFLOW_FAIL("'" << source << "': " << e.what());
  }
  return c;
}

}  // namespace oodflow::flow
