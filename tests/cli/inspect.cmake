# `oodflow inspect` as a user runs it: JSON that parses, the table, the warning of a file
# without labels, and one-line errors. Invoked by CTest with -DOODFLOW=<binary> -DWORK=<dir>
# -DDATA=<tests/data/inspect>.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)

run(0 ${OODFLOW} --quiet synth -o ${WORK} --dim 8 --train 600 --test 100 --shifts 1)
set(train ${WORK}/id_train.safetensors)

# --json: the figures on stdout, the same as --out writes.
run(0 ${OODFLOW} --quiet inspect ${train} --json --out ${WORK}/inspect.json)
set(json "${last_out}")
file(READ ${WORK}/inspect.json written)
if(NOT json STREQUAL written)
  message(FATAL_ERROR "--json and --out differ:\n${json}\n${written}")
endif()
string(JSON rows GET "${json}" rows)
string(JSON dim GET "${json}" dim)
string(JSON method GET "${json}" uniformity method)
string(JSON pairs GET "${json}" uniformity pairs)
string(JSON uniformity GET "${json}" uniformity value)
string(JSON tolerance GET "${json}" tolerance value)
string(JSON classes LENGTH "${json}" labels classes)
if(NOT rows EQUAL 600 OR NOT dim EQUAL 8 OR NOT method STREQUAL "exact" OR NOT pairs EQUAL 179700
   OR NOT classes EQUAL 4 OR uniformity GREATER 0 OR uniformity LESS -8 OR tolerance GREATER 1)
  message(FATAL_ERROR "unexpected inspect JSON:\n${json}")
endif()

# The table; a sampled uniformity says so.
run(0 ${OODFLOW} --quiet inspect ${train} --pairs 5000 --seed 3)
if(NOT last_out MATCHES "600 x 8 \\(F32\\)" OR NOT last_out MATCHES "sampled \\(5000 pairs, seed 3"
   OR NOT last_out MATCHES "tolerance +[-0-9.]+  exact")
  message(FATAL_ERROR "unexpected inspect table:\n${last_out}")
endif()

# No labels: a warning naming the file and --labels-from, exit 0, tolerance n/a / null.
run(0 ${OODFLOW} --quiet inspect ${DATA}/no_labels.npy)
if(NOT last_err MATCHES "no_labels.npy' has no labels" OR NOT last_err MATCHES "--labels-from"
   OR NOT last_out MATCHES "tolerance +n/a")
  message(FATAL_ERROR "no warning or n/a for a file without labels:\n${last_out}\n${last_err}")
endif()
run(0 ${OODFLOW} --quiet inspect ${DATA}/no_labels.npy --json)
string(JSON tolerance_type TYPE "${last_out}" tolerance)
if(NOT tolerance_type STREQUAL "NULL")
  message(FATAL_ERROR "tolerance of a file without labels is ${tolerance_type}:\n${last_out}")
endif()

# Errors: one line; a missing file is a usage error, a broken one or labels of another length
# name the files.
run(2 ${OODFLOW} --quiet inspect ${WORK}/does_not_exist.safetensors)
expect_one_line_naming("does_not_exist.safetensors")
file(WRITE ${WORK}/broken.safetensors "not a safetensors file at all")
run(1 ${OODFLOW} --quiet inspect ${WORK}/broken.safetensors)
expect_one_line_naming("broken.safetensors")
run(1 ${OODFLOW} --quiet inspect ${train} --labels-from ${WORK}/id_test.safetensors)
expect_one_line_naming("id_test.safetensors' holds 100 labels for 600 rows of '.*id_train")
run(2 ${OODFLOW} --quiet inspect ${train} --block-size 0)
expect_one_line_naming("--block-size")
