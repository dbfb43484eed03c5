# extract -> merge -> train -> score through the binary, as a user runs it, on the committed
# fixture images and backbone; plus the exit codes and one-line errors of bad input.
# Invoked by CTest with -DOODFLOW=<binary> -DWORK=<dir> -DDATA=<tests/data/extract>
# -DCONFIGS=<configs>.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)

set(preprocessing --model ${DATA}/tiny_backbone.pt --crop 20 --mean 0.5,0.4,0.3
    --std 0.25,0.2,0.3 --batch-size 3)
set(common ${preprocessing} --data ${DATA}/images)
run(0 ${OODFLOW} --quiet extract ${common} --out ${WORK}/all.safetensors)
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
run(0 ${OODFLOW} --quiet score --flow ${WORK}/flow.safetensors --id ${WORK}/s0.safetensors
    --ood ${WORK}/s1.safetensors --out ${WORK}/report.json --scores ${WORK}/scores.csv)
file(READ ${WORK}/scores.csv scores)
if(NOT scores MATCHES "images/dog/nested/g_rgb.png")
  message(FATAL_ERROR "scores.csv does not name the source images:\n${scores}")
endif()

# The presets parse (IDX source, grey 28x28 preset with a one-channel stand-in backbone
# would need another model, so only the ImageNet preset runs here: the fixture backbone
# takes any input size).
run(0 ${OODFLOW} --quiet extract --config ${CONFIGS}/extract_imagenet.json
    --model ${DATA}/tiny_backbone.pt --data ${DATA}/photos --out ${WORK}/photos.safetensors)

# Bad input: exit 1, one line naming the file, nothing written.
file(WRITE ${WORK}/junk.pt "not TorchScript")
run(1 ${OODFLOW} --quiet extract --model ${WORK}/junk.pt --data ${DATA}/images --out ${WORK}/x.safetensors)
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
run(2 ${OODFLOW} extract --model ${DATA}/tiny_backbone.pt --data ${WORK}/nowhere
    --out ${WORK}/x.safetensors)
run(2 ${OODFLOW} extract ${common} --out ${WORK}/x.safetensors --channels 2)

# ReAct and ViM read the classifier head from the backbone recorded in the features.
foreach(detector react vim)
  run(0 ${OODFLOW} --quiet fit --detector ${detector} -f ${WORK}/all.safetensors
      -o ${WORK}/${detector}.safetensors)
  run(0 ${OODFLOW} --quiet score --detector ${WORK}/${detector}.safetensors
      --id ${WORK}/s0.safetensors --ood ${WORK}/s1.safetensors)
endforeach()
run(1 ${OODFLOW} --quiet fit --detector vim -f ${WORK}/all.safetensors -o ${WORK}/x.safetensors
    --head ${WORK}/junk.pt)
expect_one_line_naming("junk.pt")
