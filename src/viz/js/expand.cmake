# expand.cmake - one copy of the drawing code for attend's HTML figures and
# the attention lab: a script names a shared file with a line
#     // @include NAME.js
# and attend_expand_js puts NAME.js (from src/viz/js/) there, in place of
# that whole line. A file's leading lines that start with // are its
# header comment and are left out, in the script and in what it includes.
#   include(src/viz/js/expand.cmake)
#   attend_expand_js(SCRIPT OUT_FILE)   writes the expanded script to OUT_FILE
set(ATTEND_JS_DIR "${CMAKE_CURRENT_LIST_DIR}")

# The text of path without its leading // lines, into var.
function(attend_js_body path var)
  file(READ "${path}" text)
  string(REGEX REPLACE "^(//[^\n]*\n)+" "" text "${text}")
  set(${var} "${text}" PARENT_SCOPE)
endfunction()

function(attend_expand_js script out_file)
  attend_js_body("${script}" text)
  string(REGEX MATCHALL "\n *// @include [a-z_]+\\.js\n" marks "\n${text}")
  foreach(mark IN LISTS marks)
    string(REGEX REPLACE "^\n *// @include ([a-z_]+\\.js)\n$" "\\1" name "${mark}")
    if(NOT EXISTS "${ATTEND_JS_DIR}/${name}")
      message(FATAL_ERROR "${script}: @include ${name}: no such file in ${ATTEND_JS_DIR}")
    endif()
    attend_js_body("${ATTEND_JS_DIR}/${name}" part)
    string(REGEX REPLACE "^\n" "" line "${mark}")
    string(REPLACE "${line}" "${part}" text "${text}")
  endforeach()
  file(WRITE "${out_file}" "${text}")
endfunction()
