# extract -> merge -> train -> score through the binary, as a user runs it, on the committed
# fixture images and backbone; plus the exit codes and one-line errors of bad input.
# Invoked by CTest with -DOODFLOW=<binary> -DWORK=<dir> -DDATA=<tests/data/extract>
# -DCONFIGS=<configs>.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)

set(preprocessing --backbone ${DATA}/tiny_backbone.pt --crop 20 --mean 0.5,0.4,0.3
    --std 0.25,0.2,0.3 --batch-size 3)
set(common ${preprocessing} --data ${DATA}/images)
# A backbone computes on LibTorch's OpenMP pool: extract runs with idle OpenMP threads
# sleeping, set by the launcher, or by oodflow-engine re-executing itself when it is started
# directly (docs/threads.md).
get_filename_component(apps_dir ${OODFLOW} DIRECTORY)
foreach(program ${apps_dir}/oodflow-engine ${OODFLOW})
  run(0 ${CMAKE_COMMAND} -E env --unset=OMP_WAIT_POLICY --unset=OODFLOW_NO_REEXEC
      --unset=OODFLOW_SET_ENV ${program} -v extract ${common} --out ${WORK}/all.safetensors)
  if(NOT last_err MATCHES "OMP_WAIT_POLICY=PASSIVE; set by oodflow: OMP_WAIT_POLICY")
    message(FATAL_ERROR "${program} extract did not run with OMP_WAIT_POLICY=PASSIVE set by oodflow:\n${last_err}")
  endif()
endforeach()
run(0 ${OODFLOW} --quiet extract ${common} --out ${WORK}/s1.safetensors --shard 1/2)
run(0 ${OODFLOW} --quiet extract ${common} --out ${WORK}/s0.safetensors --shard 0/2 --workers 0)
run(0 ${OODFLOW} --quiet merge ${WORK}/s1.safetensors ${WORK}/s0.safetensors
    --out ${WORK}/merged.safetensors)
file(SHA256 ${WORK}/all.safetensors all_hash)
file(SHA256 ${WORK}/merged.safetensors merged_hash)
if(NOT all_hash STREQUAL merged_hash)
  message(FATAL_ERROR "merged shards differ from the unsharded extraction")
endif()

# The extracted features feed train and score.
run(0 ${OODFLOW} --quiet train -f ${WORK}/all.safetensors -o ${WORK}/flow.safetensors
    --blocks 1 --batch-size 4)
run(0 ${OODFLOW} --quiet score --model ${WORK}/flow.safetensors --id ${WORK}/s0.safetensors
    --ood ${WORK}/s1.safetensors --out ${WORK}/report.json --scores ${WORK}/scores.csv)
file(READ ${WORK}/scores.csv scores)
if(NOT scores MATCHES "images/dog/nested/g_rgb.png")
  message(FATAL_ERROR "scores.csv does not name the source images:\n${scores}")
endif()

# The presets parse (IDX source, grey 28x28 preset with a one-channel stand-in backbone
# would need another model, so only the ImageNet preset runs here: the fixture backbone
# takes any input size).
run(0 ${OODFLOW} --quiet extract --config ${CONFIGS}/extract_imagenet.json
    --backbone ${DATA}/tiny_backbone.pt --data ${DATA}/photos --out ${WORK}/photos.safetensors)

# Bad input: exit 1, one line naming the file, nothing written.
file(WRITE ${WORK}/junk.pt "not TorchScript")
run(1 ${OODFLOW} --quiet extract --backbone ${WORK}/junk.pt --data ${DATA}/images --out ${WORK}/x.safetensors)
expect_one_line_naming("junk.pt")
file(MAKE_DIRECTORY ${WORK}/bad/c)
file(COPY ${DATA}/images/cat/b_rgb.png DESTINATION ${WORK}/bad/c)
file(WRITE ${WORK}/bad/c/broken.png "not a PNG")
run(1 ${OODFLOW} --quiet extract ${preprocessing} --data ${WORK}/bad --out ${WORK}/x.safetensors --strict)
expect_one_line_naming("broken.png")
if(EXISTS ${WORK}/x.safetensors)
  message(FATAL_ERROR "a failed extract left its output file")
endif()
run(0 ${OODFLOW} extract ${preprocessing} --data ${WORK}/bad --out ${WORK}/skipped.safetensors)
if(NOT last_err MATCHES "skipped 1 unreadable image")
  message(FATAL_ERROR "no summary of the skipped image:\n${last_err}")
endif()

# Usage errors exit 2.
run(2 ${OODFLOW} extract ${common} --out ${WORK}/x.safetensors --shard 2/2)
run(2 ${OODFLOW} extract --backbone ${DATA}/tiny_backbone.pt --data ${WORK}/nowhere
    --out ${WORK}/x.safetensors)
run(2 ${OODFLOW} extract ${common} --out ${WORK}/x.safetensors --channels 2)

# ReAct and ViM read the classifier head from the backbone recorded in the features.
foreach(detector react vim)
  run(0 ${OODFLOW} --quiet fit --detector ${detector} -f ${WORK}/all.safetensors
      -o ${WORK}/${detector}.safetensors)
  run(0 ${OODFLOW} --quiet score --model ${WORK}/${detector}.safetensors
      --id ${WORK}/s0.safetensors --ood ${WORK}/s1.safetensors)
endforeach()
run(1 ${OODFLOW} --quiet fit --detector vim -f ${WORK}/all.safetensors -o ${WORK}/x.safetensors
    --backbone ${WORK}/junk.pt)
expect_one_line_naming("junk.pt")

# ODIN as a user runs it: scores extracted with the features (bare --odin = the paper's T and
# eps), fitted as a detector, scored next to another, and the per-sample CSV re-evaluated by
# metrics with the same AUROC.
run(0 ${OODFLOW} --quiet extract ${preprocessing} --data ${DATA}/images --out ${WORK}/odin_id.safetensors --odin)
run(0 ${OODFLOW} --quiet extract ${preprocessing} --data ${DATA}/photos --out ${WORK}/odin_ood.safetensors
    --odin T=1000,eps=0.0014)
run(0 ${OODFLOW} --quiet fit --detector odin -f ${WORK}/odin_id.safetensors -o ${WORK}/odin.safetensors
    --val-fraction 0)
run(0 ${OODFLOW} --quiet score --model ${WORK}/odin.safetensors --id ${WORK}/odin_id.safetensors
    --ood photos=${WORK}/odin_ood.safetensors --out ${WORK}/odin_report.json --scores ${WORK}/odin_scores.csv)
# inspect lists the scores with their settings.
run(0 ${OODFLOW} --quiet inspect ${WORK}/odin_id.safetensors --json)
string(JSON odin_t GET "${last_out}" aux_scores odin temperature)
if(NOT odin_t MATCHES "^1000(\\.0*)?$")
  message(FATAL_ERROR "inspect: aux_scores odin temperature ${odin_t}")
endif()
file(READ ${WORK}/odin_report.json report)
string(JSON score_auroc GET "${report}" detectors 0 ood 0 auroc)
run(0 ${OODFLOW} --quiet metrics --id ${WORK}/odin_scores.csv --ood photos=${WORK}/odin_scores.csv
    --out ${WORK}/odin_metrics.json)
file(READ ${WORK}/odin_metrics.json report)
string(JSON metrics_auroc GET "${report}" detectors 0 ood 0 auroc)
if(NOT score_auroc MATCHES "^[0-9.e-]+$" OR NOT score_auroc STREQUAL metrics_auroc)
  message(FATAL_ERROR "odin: score gives AUROC ${score_auroc}, metrics ${metrics_auroc}")
endif()
# Other settings cannot be compared; a backbone without logits cannot give ODIN scores.
run(0 ${OODFLOW} --quiet extract ${preprocessing} --data ${DATA}/photos --out ${WORK}/odin_t10.safetensors
    --odin T=10)
run(1 ${OODFLOW} --quiet score --model ${WORK}/odin.safetensors --id ${WORK}/odin_id.safetensors
    --ood ${WORK}/odin_t10.safetensors)
expect_one_line_naming("odin_t10.safetensors. holds ODIN scores with settings")
run(1 ${OODFLOW} --quiet extract ${preprocessing} --data ${DATA}/images --out ${WORK}/x.safetensors
    --odin --logits-key none)
expect_one_line_naming("tiny_backbone.pt. gives no logits")
run(2 ${OODFLOW} extract ${common} --out ${WORK}/x.safetensors --odin T=0)
