# Fails unless docs/ops.md has a row for every op declared in the engine's op headers, and
# every row names a declared op. Run by ctest as `op_table`:
#   cmake -DSOURCE_DIR=<repository root> -P tests/check_op_table.cmake
# Only the names are matched out of each text: whole lines would be split at the ';' and
# '[' of the rules, which CMake lists treat specially.
set(declared "")
foreach(header ops.hpp losses.hpp)
  file(READ ${SOURCE_DIR}/autodiff/include/ad/${header} text)
  string(REGEX MATCHALL "\nVar<T> [a-z_0-9]+\\(" found "${text}")
  foreach(match IN LISTS found)
    string(REGEX REPLACE "\nVar<T> ([a-z_0-9]+)\\(" "\\1" op "${match}")
    list(APPEND declared ${op})
  endforeach()
endforeach()
list(REMOVE_DUPLICATES declared)

file(READ ${SOURCE_DIR}/docs/ops.md text)
string(REGEX MATCHALL "\n\\| `[a-z_0-9]+`" found "${text}")
set(documented "")
foreach(match IN LISTS found)
  string(REGEX REPLACE "\n\\| `([a-z_0-9]+)`" "\\1" op "${match}")
  list(APPEND documented ${op})
endforeach()

set(missing ${declared})
list(REMOVE_ITEM missing ${documented})
set(stale ${documented})
list(REMOVE_ITEM stale ${declared})
if(missing OR stale)
  message(FATAL_ERROR
          "docs/ops.md is out of date: no row for [${missing}]; rows for no declared op [${stale}]")
endif()
list(LENGTH declared count)
message(STATUS "docs/ops.md lists all ${count} ops")
