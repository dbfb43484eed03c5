// --config FILE: a JSON object whose keys are the long option names ("batch-size" or
// "batch_size") of the subcommand being run; an object under a subcommand's name ("train":
// {...}) applies to that subcommand only, so one file can configure several. Keys starting
// with '_' are comments. CLI11 2.1 reads config files only on the root app, so the option
// lives there and this formatter routes each key to the parsed subcommand.
#include <nlohmann/json.hpp>

#include "commands.h"

namespace oodflow::cli {
namespace {

class JsonConfig : public CLI::Config {
 public:
  explicit JsonConfig(const CLI::App* root) : root_(root) {}

  std::string to_config(const CLI::App* app, bool default_also, bool /*write_description*/,
                        std::string /*prefix*/) const override {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (const CLI::Option* opt : app->get_options()) {
      if (opt->get_lnames().empty() || !opt->get_configurable()) continue;
      const std::string name = opt->get_lnames().front();
      if (opt->count() > 0) {
        const auto& results = opt->results();
        j[name] = results.size() == 1 ? nlohmann::ordered_json(results.front())
                                      : nlohmann::ordered_json(results);
      } else if (default_also && !opt->get_default_str().empty()) {
        j[name] = opt->get_default_str();
      }
    }
    return j.dump(2) + "\n";
  }

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    const nlohmann::json j = nlohmann::json::parse(input, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      throw CLI::ConfigError("not a JSON object (is it valid JSON?)", CLI::ExitCodes::ConfigError);
    }
    std::vector<std::string> parents;
    for (const CLI::App* sub : root_->get_subcommands()) parents = {sub->get_name()};
    std::vector<CLI::ConfigItem> items;
    for (const auto& [key, value] : j.items()) {
      if (value.is_object()) {
        // A section for one subcommand: used only when that subcommand runs.
        if (!parents.empty() && key == parents.front()) add_items(value, parents, &items);
        continue;
      }
      add_item(key, value, parents, &items);
    }
    return items;
  }

 private:
  static void add_items(const nlohmann::json& object, const std::vector<std::string>& parents,
                        std::vector<CLI::ConfigItem>* items) {
    for (const auto& [key, value] : object.items()) add_item(key, value, parents, items);
  }

  static void add_item(const std::string& key, const nlohmann::json& value,
                       const std::vector<std::string>& parents,
                       std::vector<CLI::ConfigItem>* items) {
    if (key.empty() || key.front() == '_') return;
    CLI::ConfigItem item;
    item.parents = parents;
    item.name = key;
    for (char& c : item.name) c = c == '_' ? '-' : c;
    if (value.is_array()) {
      for (const auto& v : value) item.inputs.push_back(text_of(v));
    } else {
      item.inputs.push_back(text_of(value));
    }
    items->push_back(std::move(item));
  }

  static std::string text_of(const nlohmann::json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
    return v.dump();
  }

  const CLI::App* root_;
};

}  // namespace

std::shared_ptr<CLI::Config> make_json_config(const CLI::App* root) {
  return std::make_shared<JsonConfig>(root);
}

}  // namespace oodflow::cli
