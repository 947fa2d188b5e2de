# forensight_unity_batches(<out-var> NAME <name> ROOT <dir> SOURCES <file>... [ALONE <file>...])
#
# Unity batches written by hand rather than by CMake's UNITY_BUILD: CMake 3.25 writes each batch as
# `#include "/absolute/path/file.cpp"`, so two clones' batches differ. Here each batch includes its
# files by their path under ROOT, which must be on the target's include path (ccache's base_dir
# makes the -I relative), so the batch files are the same in every clone. (Measured: a second clone
# still missed on 18 of 22 compiles, because the precompiled header differs: CMake's cmake_pch.hxx
# includes pch.h by its absolute path, and gcc's .gch differs byte for byte between compiles.)
# Sets <out-var> to the batch files (FORENSIGHT_UNITY_BATCH sources each, in the order given) plus
# the ALONE files, compiled on their own (files with definitions of their own). Without
# FORENSIGHT_UNITY, <out-var> is SOURCES unchanged. A batch file is rewritten only when its list
# changes, so re-running CMake recompiles nothing.
function(forensight_unity_batches out_var)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "NAME;ROOT" "SOURCES;ALONE")
  if(NOT FORENSIGHT_UNITY)
    set(${out_var} ${arg_SOURCES} PARENT_SCOPE)
    return()
  endif()
  set(result ${arg_ALONE})
  set(lines "")
  set(count 0)
  set(batch 0)
  if(arg_ALONE)
    list(REMOVE_ITEM arg_SOURCES ${arg_ALONE})
  endif()
  list(LENGTH arg_SOURCES total)
  set(seen 0)
  foreach(source IN LISTS arg_SOURCES)
    file(RELATIVE_PATH relative ${arg_ROOT} ${source})
    string(APPEND lines "#include \"${relative}\"\n")
    math(EXPR count "${count} + 1")
    math(EXPR seen "${seen} + 1")
    if(count EQUAL FORENSIGHT_UNITY_BATCH OR seen EQUAL total)
      set(file ${CMAKE_CURRENT_BINARY_DIR}/unity/${arg_NAME}_${batch}.cpp)
      file(CONFIGURE OUTPUT ${file} CONTENT "// Unity batch (cmake/unity_batches.cmake)\n${lines}" @ONLY)
      list(APPEND result ${file})
      set(lines "")
      set(count 0)
      math(EXPR batch "${batch} + 1")
    endif()
  endforeach()
  set(${out_var} ${result} PARENT_SCOPE)
endfunction()
