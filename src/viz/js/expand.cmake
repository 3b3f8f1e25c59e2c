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
  string(FIND "${text}" "// @include " at)
  while(at GREATER -1)
    string(SUBSTRING "${text}" 0 ${at} before)
    string(FIND "${before}" "\n" line_start REVERSE) # -1 on the first line
    math(EXPR line_start "${line_start} + 1")
    string(SUBSTRING "${before}" 0 ${line_start} head)
    string(SUBSTRING "${text}" ${at} -1 rest)
    string(FIND "${rest}" "\n" eol)
    string(SUBSTRING "${rest}" 0 ${eol} mark)
    math(EXPR eol "${eol} + 1")
    string(SUBSTRING "${rest}" ${eol} -1 tail)
    string(REGEX REPLACE "^// @include ([a-z_]+\\.js)$" "\\1" name "${mark}")
    if(NOT EXISTS "${ATTEND_JS_DIR}/${name}" OR name STREQUAL mark)
      message(FATAL_ERROR "${script}: '${mark}': no such file in ${ATTEND_JS_DIR}")
    endif()
    attend_js_body("${ATTEND_JS_DIR}/${name}" part)
    set(text "${head}${part}${tail}")
    string(FIND "${text}" "// @include " at)
  endwhile()
  file(WRITE "${out_file}" "${text}")
endfunction()
