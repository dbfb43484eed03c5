// The target that precompiles <torch/torch.h> for oodflow and its tests needs one source of its
// own (src/CMakeLists.txt, oodflow_torch_pch); it has nothing to compile.
