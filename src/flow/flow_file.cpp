#include "oodflow/flow/flow_file.h"

#include <torch/torch.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "oodflow/core/error.h"
#include "oodflow/core/sha256.h"
#include "oodflow/io/calibration_record.h"
#include "oodflow/io/safetensors.h"

namespace oodflow::flow {
namespace {

constexpr const char* kMeanTensor = "preprocess.mean";
constexpr const char* kStdTensor = "preprocess.std";

io::DType to_file_dtype(const torch::Tensor& t) {
  return t.scalar_type() == torch::kLong ? io::DType::I64 : io::DType::F32;
}

torch::ScalarType to_torch_dtype(io::DType dtype) {
  return dtype == io::DType::I64 ? torch::kLong : torch::kFloat32;
}

std::vector<float> read_vector(const io::SafetensorsFile& file, const char* name,
                               std::int64_t dim) {
  const io::TensorView& t = file.require(name);
  OODFLOW_CHECK(t.dtype == io::DType::F32 && t.shape == std::vector<std::int64_t>{dim},
                "'" << file.path() << "': tensor '" << name << "' must be F32 [" << dim << "]");
  std::vector<float> out(static_cast<std::size_t>(dim));
  std::memcpy(out.data(), t.data, t.nbytes);
  return out;
}

}  // namespace

void save_flow(const std::string& path, Flow& flow, const Normalizer& normalizer,
               const std::map<std::string, std::string>& metadata,
               const metrics::Calibration* calibration) {
  std::vector<torch::Tensor> keep_alive;
  std::vector<io::TensorSpec> tensors;
  auto add = [&](const std::string& name, const torch::Tensor& value) {
    torch::Tensor cpu = value.detach().to(torch::kCPU).contiguous();
    if (cpu.scalar_type() != torch::kLong) cpu = cpu.to(torch::kFloat32);
    keep_alive.push_back(cpu);
    tensors.push_back({name, to_file_dtype(cpu), cpu.sizes().vec(), cpu.data_ptr()});
  };
  for (const auto& p : flow.named_parameters()) add(p.key(), p.value());
  for (const auto& b : flow.named_buffers()) add(b.key(), b.value());
  const auto dim = static_cast<std::int64_t>(normalizer.mean().size());
  if (normalizer.kind() == Normalization::kStandardize) {
    tensors.push_back({kMeanTensor, io::DType::F32, {dim}, normalizer.mean().data()});
    tensors.push_back({kStdTensor, io::DType::F32, {dim}, normalizer.std().data()});
  }
  std::map<std::string, std::string> meta = metadata;
  if (calibration != nullptr) {
    for (auto& t : io::calibration_tensors(*calibration)) tensors.push_back(std::move(t));
    meta[io::kCalibrationKey] = io::calibration_json(*calibration);
  }
  meta["format"] = kFlowFormat;
  meta["format_version"] = flow.config().base == "normal" ? "1" : "2";
  meta["flow"] = to_json_text(flow.config());
  meta["preprocessing"] =
      nlohmann::json{{"normalize", normalization_name(normalizer.kind())}}.dump();
  io::write_safetensors(path, tensors, meta);
}

LoadedFlow load_flow(const std::string& path) {
  io::SafetensorsFile file(path);
  const auto& meta = file.view().metadata;
  const auto format = meta.find("format");
  OODFLOW_CHECK(format != meta.end() && format->second == kFlowFormat,
                "'" << path << "' is not an oodflow flow file (metadata format is '"
                    << (format == meta.end() ? std::string("missing") : format->second) << "')");
  const auto version = meta.find("format_version");
  OODFLOW_CHECK(version != meta.end() && (version->second == "1" || version->second == "2"),
                "'" << path << "' has flow format version "
                    << (version == meta.end() ? std::string("missing") : version->second)
                    << "; this oodflow reads versions 1 to " << kFlowFormatVersion);
  OODFLOW_CHECK(meta.count("flow") && meta.count("preprocessing"),
                "'" << path << "' lacks the flow or preprocessing record (corrupt)");
  const FlowConfig config = flow_config_from_json_text(meta.at("flow"), path);

  LoadedFlow loaded;
  loaded.metadata = meta;
  const auto pre = nlohmann::json::parse(meta.at("preprocessing"), nullptr, false);
  OODFLOW_CHECK(pre.is_object() && pre.contains("normalize") && pre["normalize"].is_string(),
                "'" << path << "' has a corrupt preprocessing record");
  const Normalization kind = parse_normalization(pre["normalize"].get<std::string>());
  loaded.normalizer = kind == Normalization::kStandardize
                          ? Normalizer::standardize(read_vector(file, kMeanTensor, config.dim),
                                                    read_vector(file, kStdTensor, config.dim))
                          : Normalizer(kind);

  loaded.flow = std::make_shared<Flow>(config, /*random_init=*/false);
  torch::NoGradGuard no_grad;
  auto restore = [&](const std::string& name, torch::Tensor& target) {
    const io::TensorView& t = file.require(name);
    OODFLOW_CHECK(
        t.shape == target.sizes().vec() && to_torch_dtype(t.dtype) == target.scalar_type(),
        "'" << path << "': tensor '" << name << "' has the wrong shape or dtype for a "
            << config.arch << " flow of dimension " << config.dim << " (corrupt)");
    std::memcpy(target.data_ptr(), t.data, t.nbytes);
  };
  for (auto& p : loaded.flow->named_parameters()) restore(p.key(), p.value());
  for (auto& b : loaded.flow->named_buffers()) restore(b.key(), b.value());
  for (const auto& p : loaded.flow->parameters()) {
    OODFLOW_CHECK(torch::isfinite(p).all().item<bool>(),
                  "'" << path << "' holds non-finite parameters (corrupt or a diverged training)");
  }
  loaded.calibration = io::read_calibration(file);
  // The parameters and buffers in name order, without the calibration scores.
  std::string parameter_bytes;
  for (const auto& [name, view] : file.view().tensors) {
    if (!io::is_calibration_tensor(name)) {
      parameter_bytes.append(reinterpret_cast<const char*>(view.data), view.nbytes);
    }
  }
  loaded.parameters_sha256 = sha256_hex(parameter_bytes.data(), parameter_bytes.size());
  return loaded;
}

}  // namespace oodflow::flow
