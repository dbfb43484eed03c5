# Runs the CLI as a user would: synth -> train -> score -> metrics, checking exit codes,
# outputs and error behaviour. Invoked by CTest with -DOODFLOW=<binary> -DWORK=<dir>.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)

run(0 ${OODFLOW} --quiet synth -o ${WORK} --dim 32 --train 4000 --test 800 --shifts 2)
run(0 ${OODFLOW} --quiet train -f ${WORK}/id_train.safetensors -o ${WORK}/flow.safetensors
    --blocks 2 --lr 1e-3)
# A warm-up as long as the training never lets the learning rate reach --lr: said, not silent.
run(0 ${OODFLOW} --quiet train -f ${WORK}/id_train.safetensors -o ${WORK}/short.safetensors
    --blocks 1 --steps 6 --warmup 5)
if(last_err MATCHES "warm-up")
  message(FATAL_ERROR "a warning about a warm-up shorter than the training:\n${last_err}")
endif()
foreach(steps 3 5)
  run(0 ${OODFLOW} --quiet train -f ${WORK}/id_train.safetensors -o ${WORK}/short.safetensors
      --blocks 1 --steps ${steps} --warmup 5)
  if(NOT last_err MATCHES "the warm-up \\(5 steps\\) is not shorter than the training \\(${steps} steps\\)")
    message(FATAL_ERROR "no warning for a warm-up of 5 steps in ${steps}:\n${last_err}")
  endif()
endforeach()
run(0 ${OODFLOW} --quiet score --model ${WORK}/flow.safetensors --id ${WORK}/id_test.safetensors
    --ood shifted=${WORK}/ood_shift2.safetensors --out ${WORK}/report.json
    --scores ${WORK}/scores.csv)
if(NOT last_out MATCHES "shifted" OR NOT last_out MATCHES "AUROC")
  message(FATAL_ERROR "score printed no table:\n${last_out}")
endif()
file(READ ${WORK}/report.json report)
string(JSON auroc GET "${report}" detectors 0 ood 0 auroc)
if(auroc LESS 0.9)
  message(FATAL_ERROR "AUROC ${auroc} on a well separated synthetic set")
endif()

# The launcher (`oodflow`) sets the variables libgomp and OpenBLAS read when they load before
# it runs oodflow-engine, so LibTorch loads once: idle OpenMP threads sleep and, where OpenBLAS
# 0.3.21 falls back to its SSE3 "Prescott" kernels on a CPU newer than it knows (4x slower
# matrix products), the kernels the CPU can run are forced (docs/threads.md).
set(fresh_env ${CMAKE_COMMAND} -E env --unset=OMP_WAIT_POLICY --unset=OPENBLAS_CORETYPE
    --unset=OODFLOW_NO_REEXEC --unset=OODFLOW_SET_ENV --unset=LD_DEBUG_OUTPUT)
run(0 ${fresh_env} LD_DEBUG=files
    ${OODFLOW} -v fit --detector knn -f ${WORK}/id_train.safetensors -o ${WORK}/knn.safetensors
    --threads 2)
if(NOT last_err MATCHES "threads: LibTorch 1, OpenBLAS 2 \\([A-Za-z0-9]+ kernels\\), OMP_WAIT_POLICY=PASSIVE; set by oodflow: OMP_WAIT_POLICY")
  message(FATAL_ERROR "fit did not run with LibTorch 1, OpenBLAS 2 and sleeping OpenMP threads:\n${last_err}")
endif()
# (The loader's lines hold ';', a CMake list separator, and '[0]'.)
string(REPLACE ";" "," loader_log "${last_err}")
string(REGEX MATCHALL "file=libtorch_cpu[^ ]* .0.,  generating link map" loads "${loader_log}")
list(LENGTH loads load_count)
if(NOT load_count EQUAL 1)
  message(FATAL_ERROR "LibTorch was loaded ${load_count} times (the launcher should load it once)")
endif()
file(READ /proc/cpuinfo cpuinfo)
if(cpuinfo MATCHES " avx2 " AND last_err MATCHES "\\(Prescott kernels\\)")
  message(FATAL_ERROR "OpenBLAS runs its Prescott kernels on a CPU with AVX2:\n${last_err}")
endif()
# The engine started directly re-executes itself for the kernels only: a matrix-product command
# keeps LibTorch's OpenMP pool at one thread, which has no idle threads to put to sleep.
get_filename_component(apps_dir ${OODFLOW} DIRECTORY)
run(0 ${fresh_env} ${apps_dir}/oodflow-engine -v fit --detector knn
    -f ${WORK}/id_train.safetensors -o ${WORK}/knn.safetensors)
if(NOT last_err MATCHES "OMP_WAIT_POLICY=\\(unset\\)" OR
   (last_err MATCHES "\\(Prescott kernels\\)" AND cpuinfo MATCHES " avx2 "))
  message(FATAL_ERROR "oodflow-engine did not set the kernels alone:\n${last_err}")
endif()
# Through a symbolic link elsewhere the launcher still finds its engine; without its engine it
# says so, in one line.
file(MAKE_DIRECTORY ${WORK}/linked)
file(CREATE_LINK ${OODFLOW} ${WORK}/linked/oodflow SYMBOLIC)
run(0 ${WORK}/linked/oodflow --version)
file(MAKE_DIRECTORY ${WORK}/lone)
file(COPY ${OODFLOW} DESTINATION ${WORK}/lone)
get_filename_component(launcher_name ${OODFLOW} NAME)
run(1 ${WORK}/lone/${launcher_name} --version)
expect_one_line_naming("cannot run '.*/lone/oodflow-engine': No such file or directory")
run(0 ${CMAKE_COMMAND} -E env OMP_WAIT_POLICY=active OPENBLAS_CORETYPE=Prescott
    --unset=OODFLOW_SET_ENV
    ${OODFLOW} -v fit --detector knn -f ${WORK}/id_train.safetensors -o ${WORK}/knn.safetensors)
if(NOT last_err MATCHES "\\(Prescott kernels\\), OMP_WAIT_POLICY=active\n")
  message(FATAL_ERROR "the user's OMP_WAIT_POLICY and OPENBLAS_CORETYPE were not kept:\n${last_err}")
endif()

# KNN with an IVF index: the recall against the exact search is measured at fit, recorded in
# the model file and shown in the detector's label; a full probe gives the exact scores.
run(0 ${OODFLOW} fit --detector knn --index ivf --nlist 8 --nprobe 8
    -f ${WORK}/id_train.safetensors -o ${WORK}/ivf.safetensors)
if(NOT last_err MATCHES "IVF recall@50 1.0000 on 400 held-out rows")
  message(FATAL_ERROR "fit --index ivf did not report its recall on the held-out rows:\n${last_err}")
endif()
run(0 ${OODFLOW} --quiet score --model ${WORK}/knn.safetensors --model ${WORK}/ivf.safetensors
    --id ${WORK}/id_test.safetensors --ood shifted=${WORK}/ood_shift2.safetensors
    --out ${WORK}/knn_report.json)
file(READ ${WORK}/knn_report.json knn_report)
string(JSON exact_auroc GET "${knn_report}" detectors 0 ood 0 auroc)
string(JSON ivf_auroc GET "${knn_report}" detectors 1 ood 0 auroc)
string(JSON ivf_label GET "${knn_report}" detectors 1 label)
if(NOT exact_auroc STREQUAL ivf_auroc OR NOT ivf_label MATCHES "IVF 8/8, recall@50 1.000")
  message(FATAL_ERROR "IVF with every list probed: AUROC ${ivf_auroc} (exact ${exact_auroc}), "
                      "label '${ivf_label}'")
endif()

# The per-sample CSV evaluated again by `metrics` gives the same AUROC.
run(0 ${OODFLOW} --quiet metrics --id ${WORK}/scores.csv --ood shifted=${WORK}/scores.csv
    --out ${WORK}/metrics.json)
file(READ ${WORK}/metrics.json metrics_report)
string(JSON auroc2 GET "${metrics_report}" detectors 0 ood 0 auroc)
if(NOT auroc STREQUAL auroc2)
  message(FATAL_ERROR "metrics AUROC ${auroc2} differs from score AUROC ${auroc}")
endif()

# Gates on scores with AUROC 4/6: a bar above it exits 3, one below exits 0.
file(WRITE ${WORK}/gate_id.txt "1\n2\n3\n")
file(WRITE ${WORK}/gate_ood.txt "2.5\n0\n")
run(3 ${OODFLOW} --quiet metrics --id ${WORK}/gate_id.txt --ood o=${WORK}/gate_ood.txt
    --fail-under auroc=0.9)
run(0 ${OODFLOW} --quiet metrics --id ${WORK}/gate_id.txt --ood o=${WORK}/gate_ood.txt
    --fail-under auroc=0.6,fpr95=1)

# A config file sets options; an unknown key is a usage error.
file(WRITE ${WORK}/cfg.json "{\"blocks\": 1, \"lr\": 0.001, \"_comment\": \"ignored\"}")
run(0 ${OODFLOW} --quiet train -f ${WORK}/id_train.safetensors -o ${WORK}/flow_cfg.safetensors
    --config ${WORK}/cfg.json)
file(WRITE ${WORK}/bad_cfg.json "{\"blockz\": 1}")
run(2 ${OODFLOW} --quiet train -f ${WORK}/id_train.safetensors -o ${WORK}/x.safetensors
    --config ${WORK}/bad_cfg.json)

# The shipped configs parse and train.
foreach(config glow realnvp)
  run(0 ${OODFLOW} --quiet train --config ${CONFIGS}/${config}.json
      -f ${WORK}/id_train.safetensors -o ${WORK}/flow_${config}.safetensors --blocks 1)
endforeach()

# Usage errors exit 2.
run(2 ${OODFLOW} train --no-such-option)
run(2 ${OODFLOW} train -f ${WORK}/does_not_exist.npy -o ${WORK}/x.safetensors)
run(2 ${OODFLOW} train -f ${WORK}/id_train.safetensors -o ${WORK}/x.safetensors --lr -1)
if(NOT last_err MATCHES "^error: --lr must be > 0")
  message(FATAL_ERROR "unexpected usage error text: ${last_err}")
endif()
run(2 ${OODFLOW} score --model ${WORK}/flow.safetensors --id ${WORK}/id_test.safetensors
    --ood x=${WORK}/id_test.safetensors --batch-size many)

# Bad input: one line on stderr naming the file, exit 1, no output left behind.
file(WRITE ${WORK}/broken.safetensors "not a safetensors file at all")
run(1 ${OODFLOW} --quiet train -f ${WORK}/broken.safetensors -o ${WORK}/never.safetensors)
expect_one_line_naming("broken.safetensors")
if(EXISTS ${WORK}/never.safetensors)
  message(FATAL_ERROR "a failed train left its output file")
endif()

# Baseline detectors: fit, then score like a flow; a detector that needs logits says so.
run(0 ${OODFLOW} --quiet fit --detector knn --k 5 -f ${WORK}/id_train.safetensors
    -o ${WORK}/knn.safetensors)
run(0 ${OODFLOW} --quiet score --model ${WORK}/knn.safetensors --id ${WORK}/id_test.safetensors
    --ood shifted=${WORK}/ood_shift2.safetensors --out ${WORK}/knn_report.json)
file(READ ${WORK}/knn_report.json knn_report)
string(JSON knn_auroc GET "${knn_report}" detectors 0 ood 0 auroc)
string(JSON knn_name GET "${knn_report}" detectors 0 detector name)
if(knn_auroc LESS 0.9 OR NOT knn_name STREQUAL "knn")
  message(FATAL_ERROR "knn: AUROC ${knn_auroc}, detector '${knn_name}'")
endif()
run(1 ${OODFLOW} --quiet fit --detector energy -f ${WORK}/id_train.safetensors
    -o ${WORK}/energy.safetensors)
expect_one_line_naming("no logits")
# The flow and several baselines in one comparison table, report and scores CSV.
run(0 ${OODFLOW} --quiet fit --detector gaussian -f ${WORK}/id_train.safetensors
    -o ${WORK}/gaussian.safetensors)
run(0 ${OODFLOW} --quiet score --model ${WORK}/flow.safetensors --model ${WORK}/knn.safetensors
    --model ${WORK}/gaussian.safetensors --id ${WORK}/id_test.safetensors
    --ood shifted=${WORK}/ood_shift2.safetensors --out ${WORK}/comparison.json
    --scores ${WORK}/comparison.csv)
if(NOT last_out MATCHES "flow \\(glow\\)" OR NOT last_out MATCHES "knn" OR NOT last_out MATCHES "gaussian")
  message(FATAL_ERROR "no comparison table:\n${last_out}")
endif()
# The spellings of the previous release still work for one release, in their order, and warn.
run(0 ${OODFLOW} score --flow ${WORK}/flow.safetensors --detector ${WORK}/knn.safetensors
    --detector ${WORK}/gaussian.safetensors --id ${WORK}/id_test.safetensors
    --ood shifted=${WORK}/ood_shift2.safetensors --scores ${WORK}/comparison_old.csv)
file(READ ${WORK}/comparison.csv new_spelling)
file(READ ${WORK}/comparison_old.csv old_spelling)
if(NOT new_spelling STREQUAL old_spelling OR NOT last_err MATCHES "--flow is deprecated.*use --model"
   OR NOT last_err MATCHES "--detector is deprecated")
  message(FATAL_ERROR "old spellings: other scores or no warning:\n${last_err}")
endif()
run(0 ${OODFLOW} fit --detector knn --k 3 -f ${WORK}/id_train.safetensors -o ${WORK}/knn_alias.safetensors
    --head-param fc)
if(NOT last_err MATCHES "--head-param is deprecated.*use --head-layer")
  message(FATAL_ERROR "fit --head-param: no warning:\n${last_err}")
endif()
# An option another model reads is named as ignored, one the model reads is not.
run(0 ${OODFLOW} fit --detector knn --k 3 --lr 1e-3 --shrinkage 0.2 -f ${WORK}/id_train.safetensors
    -o ${WORK}/knn_ignored.safetensors)
if(NOT last_err MATCHES "--lr is read by glow, realnvp only; knn ignores it"
   OR NOT last_err MATCHES "--shrinkage is read by gaussian, mahalanobis only; knn ignores it"
   OR last_err MATCHES "--k is read")
  message(FATAL_ERROR "fit: ignored options not named, or a used one named:\n${last_err}")
endif()
file(READ ${WORK}/comparison.json comparison)
string(JSON detectors LENGTH "${comparison}" detectors)
string(JSON second GET "${comparison}" detectors 1 detector name)
if(NOT detectors EQUAL 3 OR NOT second STREQUAL "knn")
  message(FATAL_ERROR "comparison report: ${detectors} detectors, second '${second}'")
endif()
file(STRINGS ${WORK}/comparison.csv header LIMIT_COUNT 1)
if(NOT header STREQUAL "set,index,source,flow (glow),knn,gaussian")
  message(FATAL_ERROR "comparison CSV header: ${header}")
endif()
run(2 ${OODFLOW} score --id ${WORK}/id_test.safetensors --ood ${WORK}/ood_shift2.safetensors)
run(2 ${OODFLOW} fit --detector ssd -f ${WORK}/id_train.safetensors -o ${WORK}/x.safetensors)
# ODIN needs the images: features without its scores say how to get them.
run(1 ${OODFLOW} --quiet fit --detector odin -f ${WORK}/id_train.safetensors -o ${WORK}/x.safetensors)
expect_one_line_naming("id_train.safetensors. has no 'odin' scores, which the odin detector needs: extract it with")

# detect: verdicts on stdout or in a file, the --fail-on-ood gate, usage and input errors.
run(0 ${OODFLOW} --quiet detect -m ${WORK}/flow.safetensors -f ${WORK}/id_test.safetensors)
string(REGEX MATCHALL "\n" lines "${last_out}")
list(LENGTH lines line_count)
if(NOT last_out MATCHES "^index,source,score,verdict\n" OR NOT line_count EQUAL 801)
  message(FATAL_ERROR "detect printed ${line_count} lines:\n${last_out}")
endif()
run(3 ${OODFLOW} --quiet detect -m ${WORK}/knn.safetensors -f ${WORK}/ood_shift2.safetensors
    --fail-on-ood --format jsonl -o ${WORK}/verdicts.jsonl)
file(STRINGS ${WORK}/verdicts.jsonl first LIMIT_COUNT 1)
string(JSON verdict GET "${first}" verdict)
if(NOT verdict MATCHES "^(in|out)$")
  message(FATAL_ERROR "detect JSON Lines: ${first}")
endif()
run(0 ${OODFLOW} --quiet detect -m ${WORK}/knn.safetensors -f ${WORK}/ood_shift2.safetensors
    --fail-on-ood --threshold -1e9 -o ${WORK}/verdicts.csv)
run(2 ${OODFLOW} detect -m ${WORK}/flow.safetensors -f ${WORK}/id_test.safetensors
    --images ${WORK})
run(2 ${OODFLOW} detect -m ${WORK}/flow.safetensors -f ${WORK}/id_test.safetensors --tpr 0)
run(1 ${OODFLOW} --quiet detect -m ${WORK}/broken.safetensors -f ${WORK}/id_test.safetensors)
expect_one_line_naming("broken.safetensors")
