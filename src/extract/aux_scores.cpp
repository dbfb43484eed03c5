#include "oodflow/extract/aux_scores.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "oodflow/core/error.h"
#include "oodflow/extract/extractor.h"
#include "oodflow/io/feature_file.h"

namespace oodflow::extract {
namespace {

AuxBatchScores odin_scores(Backbone& backbone, const BatchInput& in, const std::string& settings) {
  const OdinSettings odin = odin_from_json(settings, "the requested ODIN settings");
  BackboneOutputs y =
      backbone.run_odin(in.pixels, in.batch, in.channels, in.height, in.width, odin);
  AuxBatchScores out;
  out.values = std::move(y.odin);
  y.odin.clear();
  out.outputs = std::move(y);
  return out;
}

std::vector<AuxScoreKind> make_kinds() {
  std::vector<AuxScoreKind> kinds;
  kinds.push_back({"odin", "--odin",
                   "Also store each image's ODIN score (Liang et al., ICLR 2018) as the "
                   "auxiliary score 'odin', for `fit --detector odin`: "
                   "T=<temperature>,eps=<perturbation>; bare --odin = " +
                       std::string(kOdinDefaults) +
                       " (the paper's). The perturbation is taken on the normalised input, its "
                       "gradient sign divided by --std. Costs a forward, a backward and a second "
                       "forward per batch, and memory for the batch's activations (a smaller "
                       "--batch-size for large backbones); needs the backbone's logits and their "
                       "gradient",
                   "[T=..,eps=..]", kOdinDefaults,
                   [](const std::string& text, const Preprocessing& p) {
                     return odin_json(parse_odin(text, p));
                   },
                   [](const std::string& record, const std::string& source) {
                     return odin_json(odin_from_json(record, source));
                   },
                   odin_scores});
  return kinds;
}

}  // namespace

const std::vector<AuxScoreKind>& aux_score_kinds() {
  static const std::vector<AuxScoreKind> kinds = make_kinds();
  return kinds;
}

const AuxScoreKind& aux_score_kind(const std::string& name) {
  std::string known;
  for (const AuxScoreKind& kind : aux_score_kinds()) {
    if (kind.name == name) return kind;
    known += (known.empty() ? "" : ", ") + kind.name;
  }
  OODFLOW_FAIL("unknown extraction-time score '" << name << "'; oodflow computes " << known);
}

AuxRequest parse_aux_score(const std::string& name, const std::string& text,
                           const Preprocessing& preprocessing) {
  return {name, aux_score_kind(name).parse(text, preprocessing)};
}

void request_aux_scores(const std::vector<std::string>& names, const std::string& extraction_record,
                        ExtractSettings* settings, const std::string& model_path) {
  if (names.empty()) return;
  const auto record = nlohmann::json::parse(extraction_record, nullptr, false);
  for (const std::string& name : names) {
    const AuxScoreKind& kind = aux_score_kind(name);
    const bool requested = std::any_of(settings->aux_scores.begin(), settings->aux_scores.end(),
                                       [&](const AuxRequest& r) { return r.name == name; });
    if (requested) continue;
    const nlohmann::json* recorded = nullptr;
    if (record.is_object()) {
      const auto all = record.find(io::kAuxScoresKey);
      if (all != record.end() && all->is_object() && all->contains(name)) {
        recorded = &(*all)[name];
      } else if (record.contains(name)) {
        // Models made before auxiliary scores were generic record the settings under the
        // score's own name.
        recorded = &record[name];
      }
    }
    OODFLOW_CHECK(recorded != nullptr && recorded->is_object(),
                  "'" << model_path << "' records no settings of the auxiliary score '" << name
                      << "' its detector reads (its training features were not extracted with "
                      << kind.flag << "), so it cannot judge images");
    settings->aux_scores.push_back({name, kind.from_record(recorded->dump(), model_path)});
  }
}

OdinSettings parse_odin(const std::string& text, const Preprocessing& p) {
  OdinSettings odin;
  // One std per channel, whichever way --std gave it, so that equal preprocessing gives
  // equal records (and a detector accepts every set extracted with it).
  odin.std.assign(static_cast<std::size_t>(p.channels), 1.0);
  for (int c = 0; c < p.channels && !p.std.empty(); ++c) {
    odin.std[static_cast<std::size_t>(c)] = p.std.size() == 1 ? p.std[0] : p.std[c];
  }
  // "true": a config file's "odin": true.
  if (text == "default" || text == "true") return odin;
  bool seen_t = false, seen_eps = false;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    std::size_t end = text.find(',', begin);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(begin, end - begin);
    const auto eq = item.find('=');
    const std::string key = item.substr(0, eq);
    const bool is_t = key == "T" || key == "temperature";
    const bool is_eps = key == "eps" || key == "epsilon";
    const std::string number = eq == std::string::npos ? "" : item.substr(eq + 1);
    // Plain decimal numbers only: no blanks, no hexadecimal.
    bool ok = (is_t && !seen_t) || (is_eps && !seen_eps);
    ok = ok && !number.empty() && number.find_first_not_of("0123456789.eE+-") == std::string::npos;
    double value = 0;
    try {
      std::size_t used = 0;
      if (ok) value = std::stod(number, &used);
      ok = ok && used == number.size();
    } catch (const std::exception&) {
      ok = false;
    }
    OODFLOW_CHECK(ok, "--odin must be T=<temperature>,eps=<perturbation>, each at most once (e.g. "
                          << kOdinDefaults << "), got '" << text << "'");
    (is_t ? odin.temperature : odin.epsilon) = value;
    (is_t ? seen_t : seen_eps) = true;
    begin = end + 1;
  }
  try {
    validate(odin);
  } catch (const Error& e) {
    OODFLOW_FAIL("--odin " << text << ": " << e.what());
  }
  return odin;
}

std::string odin_json(const OdinSettings& odin) {
  return nlohmann::json{
      {"temperature", odin.temperature},
      {"epsilon", odin.epsilon},
      {"std", odin.std},
      {"description",
       "max softmax at temperature T of the input perturbed as normalised input - epsilon * "
       "sign(gradient) / std"}}
      .dump();
}

OdinSettings odin_from_json(const std::string& json, const std::string& source) {
  const auto j = nlohmann::json::parse(json, nullptr, false);
  OdinSettings odin;
  try {
    odin.temperature = j.at("temperature").get<double>();
    odin.epsilon = j.at("epsilon").get<double>();
    odin.std = j.at("std").get<std::vector<double>>();
  } catch (const std::exception&) {
    OODFLOW_FAIL("'" << source << "' has a malformed ODIN record: " << json);
  }
  try {
    validate(odin);
  } catch (const Error& e) {
    OODFLOW_FAIL("'" << source << "' has invalid ODIN settings: " << e.what());
  }
  return odin;
}

}  // namespace oodflow::extract
